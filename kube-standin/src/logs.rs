//! `pods/{name}/log`: the container log the kubelet wrote, with `tailLines`, `limitBytes`,
//! `container` and `follow`.

use std::convert::Infallible;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use k8s_openapi::api::core::v1::Pod;

use crate::Shared;
use crate::status::ApiError;

/// A log read: the text to send and where the file ended, for `follow`.
pub struct LogRead {
    /// The log text after `tailLines` and `limitBytes`.
    pub text: String,
    /// The log file.
    pub path: PathBuf,
    /// The file length when it was read.
    pub offset: u64,
    /// The container the log belongs to.
    pub container: String,
}

/// `GET pods/{name}/log`: the container's log, `tailLines` then `limitBytes` applied; 400 with
/// the real server's text while the container has not started.
pub fn read_log(
    shared: &Shared,
    ns: &str,
    name: &str,
    container: Option<&str>,
    tail_lines: Option<u64>,
    limit_bytes: Option<u64>,
) -> Result<LogRead, ApiError> {
    let pod: Pod = shared.store.get(ns, name)?;
    let spec = pod.spec.clone().unwrap_or_default();
    let cname = match container {
        Some(c) => c.to_owned(),
        None if spec.containers.len() == 1 => spec.containers[0].name.clone(),
        None => {
            let names: Vec<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                names.join(" ")
            )));
        }
    };
    if !spec.containers.iter().any(|c| c.name == cname) {
        return Err(ApiError::bad_request(format!(
            "container {cname} is not valid for pod {name}"
        )));
    }
    let status = pod
        .status
        .and_then(|s| s.container_statuses)
        .and_then(|v| v.into_iter().find(|c| c.name == cname));
    if let Some(w) = status
        .as_ref()
        .and_then(|s| s.state.as_ref())
        .and_then(|s| s.waiting.as_ref())
    {
        let why = match w.reason.as_deref() {
            Some("ImagePullBackOff") => "trying and failing to pull image".to_owned(),
            Some("ErrImagePull") => "image can't be pulled".to_owned(),
            Some(r) => r.to_owned(),
            None => "ContainerCreating".to_owned(),
        };
        return Err(ApiError::bad_request(format!(
            "container {cname:?} in pod {name:?} is waiting to start: {why}"
        )));
    }
    let uid = pod.metadata.uid.unwrap_or_default();
    let path = shared
        .work_dir
        .join("pods")
        .join(uid)
        .join("logs")
        .join(format!("{cname}.log"));
    let Ok(bytes) = std::fs::read(&path) else {
        return Err(ApiError::bad_request(format!(
            "container {cname:?} in pod {name:?} is waiting to start: ContainerCreating"
        )));
    };
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if let Some(n) = tail_lines {
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        text = lines[lines.len().saturating_sub(n)..].concat();
    }
    if let Some(limit) = limit_bytes.and_then(|l| usize::try_from(l).ok())
        && text.len() > limit
    {
        let mut cut = limit;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    Ok(LogRead {
        text,
        path,
        offset: bytes.len() as u64,
        container: cname,
    })
}

fn terminated(shared: &Shared, ns: &str, name: &str, container: &str) -> bool {
    let Ok(pod) = shared.store.get::<Pod>(ns, name) else {
        return true;
    };
    pod.status
        .and_then(|s| s.container_statuses)
        .into_iter()
        .flatten()
        .any(|c| c.name == container && c.state.is_some_and(|s| s.terminated.is_some()))
}

fn read_from(path: &PathBuf, offset: u64) -> Vec<u8> {
    let mut out = Vec::new();
    if let Ok(mut f) = std::fs::File::open(path)
        && f.seek(SeekFrom::Start(offset)).is_ok()
    {
        // Bounded per poll, so a chatty container cannot make one chunk unbounded.
        let _ = f.take(1 << 20).read_to_end(&mut out);
    }
    out
}

/// `follow=true`: the log read so far, then what the container appends, polled every 100 ms,
/// until the container has terminated (or the pod is gone) and the file is drained.
pub fn follow(
    shared: Arc<Shared>,
    ns: String,
    name: String,
    first: LogRead,
) -> impl futures::Stream<Item = Result<Bytes, Infallible>> {
    let state = (
        shared,
        ns,
        name,
        first.path,
        first.offset,
        first.container,
        Some(first.text),
        false,
    );
    futures::stream::unfold(
        state,
        |(shared, ns, name, path, offset, container, first, done)| async move {
            if let Some(text) = first {
                let item = Ok(Bytes::from(text));
                return Some((
                    item,
                    (shared, ns, name, path, offset, container, None, done),
                ));
            }
            if done {
                return None;
            }
            loop {
                let finished = terminated(&shared, &ns, &name, &container);
                let chunk = read_from(&path, offset);
                if !chunk.is_empty() {
                    let next = offset + chunk.len() as u64;
                    let item = Ok(Bytes::from(chunk));
                    return Some((item, (shared, ns, name, path, next, container, None, false)));
                }
                if finished {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        },
    )
}
