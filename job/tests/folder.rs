//! Creating job folders exactly as Cortex does, and opening existing ones.

use cortex_job::{Attachment, AttachmentSource, FolderError, JobFolder, JobInput};
use serde_json::json;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The digits after `prefix` in `name`, parsed as Java's unsigned 64-bit random number.
fn random_suffix(name: &str, prefix: &str) -> u64 {
    let digits = name
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{name} lacks {prefix}"));
    assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{name}");
    digits.parse().unwrap()
}

#[test]
fn a_folder_is_laid_out_as_cortex_lays_it_out() {
    let root = tempfile::tempdir().unwrap();
    let mut input = JobInput::new("domain", "evil.example");
    input.tlp = 3;
    input.message = "from case 12".into();
    input
        .parameters
        .insert("keepJobFolder".into(), json!(false));
    input.config.insert("key".into(), json!("k"));

    let folder = JobFolder::create(root.path(), "AZQx-1b_k", &input, None).unwrap();

    let name = folder.path().file_name().unwrap().to_str().unwrap();
    random_suffix(name, "cortex-job-AZQx-1b_k-");
    assert_eq!(folder.path().parent().unwrap(), root.path());
    assert_eq!(mode(folder.path()), 0o700);
    let mut top: Vec<_> = fs::read_dir(folder.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    top.sort();
    assert_eq!(top, ["input", "output"]);
    assert_eq!(fs::read_dir(folder.output_dir()).unwrap().count(), 0);
    let inputs: Vec<_> = fs::read_dir(folder.input_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(inputs, ["input.json"]);
    assert_eq!(
        fs::read_to_string(folder.input_dir().join("input.json")).unwrap(),
        r#"{"data":"evil.example","dataType":"domain","tlp":3,"pap":2,"message":"from case 12","parameters":{"keepJobFolder":false},"config":{"key":"k"}}"#
    );
    assert_eq!(folder.input(), &input);
    assert_eq!(folder.attachment_path(), None);
}

#[test]
fn two_folders_for_one_job_get_different_random_names() {
    let root = tempfile::tempdir().unwrap();
    let input = JobInput::new("ip", "1.1.1.1");
    let a = JobFolder::create(root.path(), "j", &input, None).unwrap();
    let b = JobFolder::create(root.path(), "j", &input, None).unwrap();
    assert_ne!(a.path(), b.path());
}

/// A `file` job in `root` whose attachment is the 8 bytes `%PDF-1.7`, named `invoice.pdf`.
fn pdf_job(root: &Path, id: &str) -> JobFolder {
    let input = JobInput {
        data: None,
        ..JobInput::new("file", "")
    };
    let attachment = Attachment {
        source: AttachmentSource::Bytes(b"%PDF-1.7"),
        filename: "invoice.pdf",
        content_type: "application/pdf",
    };
    JobFolder::create(root, id, &input, Some(attachment)).unwrap()
}

#[test]
fn an_attachment_gets_a_random_name_and_replaces_data_in_the_input() {
    let root = tempfile::tempdir().unwrap();

    let folder = pdf_job(root.path(), "j1");

    let path = folder.attachment_path().unwrap();
    let name = path.file_name().unwrap().to_str().unwrap().to_owned();
    random_suffix(&name, "attachment");
    assert_eq!(path.parent().unwrap(), folder.input_dir());
    assert_eq!(fs::read(&path).unwrap(), b"%PDF-1.7");
    assert_eq!(mode(&path), 0o600);
    let written: serde_json::Value =
        serde_json::from_slice(&fs::read(folder.input_dir().join("input.json")).unwrap()).unwrap();
    assert_eq!(
        written,
        json!({"file": name, "filename": "invoice.pdf", "contentType": "application/pdf",
               "dataType": "file", "tlp": 2, "pap": 2, "message": "", "parameters": {}, "config": {}})
    );
    assert_eq!(folder.input().file.as_deref(), Some(name.as_str()));
}

#[test]
fn an_attachment_can_be_copied_from_a_file_and_a_missing_one_leaves_nothing_behind() {
    let root = tempfile::tempdir().unwrap();
    let source = root.path().join("sample.eml");
    fs::write(&source, "From: a@b").unwrap();
    let jobs = root.path().join("jobs");
    fs::create_dir(&jobs).unwrap();
    let input = JobInput::new("file", "");
    let from = |path| Attachment {
        source: AttachmentSource::Path(path),
        filename: "m.eml",
        content_type: "message/rfc822",
    };

    let folder = JobFolder::create(&jobs, "j2", &input, Some(from(&source))).unwrap();
    assert_eq!(
        fs::read_to_string(folder.attachment_path().unwrap()).unwrap(),
        "From: a@b"
    );
    assert_eq!(folder.input().data, None);

    let missing = root.path().join("gone.eml");
    let err = JobFolder::create(&jobs, "j3", &input, Some(from(&missing))).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot read the attachment {}: No such file or directory (os error 2)",
            missing.display()
        )
    );
    assert_eq!(
        fs::read_dir(&jobs).unwrap().count(),
        1,
        "the half-made j3 folder was removed"
    );
}

#[test]
fn cacerts_are_written_only_when_not_blank() {
    let root = tempfile::tempdir().unwrap();
    let mut input = JobInput::new("url", "https://x.example");
    input.config.insert(
        "cacerts".into(),
        json!("-----BEGIN CERTIFICATE-----\nMIIB\n"),
    );
    let folder = JobFolder::create(root.path(), "c1", &input, None).unwrap();
    assert_eq!(
        fs::read_to_string(folder.input_dir().join("cacerts")).unwrap(),
        "-----BEGIN CERTIFICATE-----\nMIIB\n"
    );

    input.config.insert("cacerts".into(), json!("  \n"));
    let folder = JobFolder::create(root.path(), "c2", &input, None).unwrap();
    assert!(!folder.input_dir().join("cacerts").exists());
}

#[test]
fn a_job_id_that_is_not_a_plain_name_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let input = JobInput::new("ip", "1.1.1.1");
    for id in ["../x", "a/b", "", "a b", "x\0"] {
        let err = JobFolder::create(root.path(), id, &input, None).unwrap_err();
        assert!(matches!(err, FolderError::InvalidJobId(_)));
        assert_eq!(
            err.to_string(),
            format!(
                "job id {id:?} cannot name a job folder: use 1 to 128 letters, digits, `-` and `_` (Cortex ids look like `AZQx-1b_k`)"
            )
        );
    }
    assert_eq!(fs::read_dir(root.path()).unwrap().count(), 0);
}

#[test]
fn open_accepts_a_cortex_folder_and_creates_a_missing_output() {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir(root.path().join("input")).unwrap();
    fs::write(
        root.path().join("input/input.json"),
        r#"{"dataType":"hash","data":"d41d8cd98f00b204e9800998ecf8427e","future":1}"#,
    )
    .unwrap();

    let folder = JobFolder::open(root.path()).unwrap();

    assert!(folder.output_dir().is_dir());
    assert_eq!(folder.input().data_type, "hash");
    assert_eq!(folder.input().extra.get("future"), Some(&json!(1)));
    assert_eq!(folder.path(), root.path());
}

#[test]
fn open_names_the_path_and_the_problem() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("nope");
    assert_eq!(
        JobFolder::open(&missing).unwrap_err().to_string(),
        format!(
            "job folder {} cannot be opened: No such file or directory (os error 2) (pass the folder Cortex created, cortex-job-<id>-<random>)",
            missing.display()
        )
    );

    let file = root.path().join("file");
    fs::write(&file, "").unwrap();
    assert_eq!(
        JobFolder::open(&file).unwrap_err().to_string(),
        format!(
            "job folder {} is not a directory (pass the folder Cortex created, cortex-job-<id>-<random>)",
            file.display()
        )
    );

    let job = root.path().join("job");
    fs::create_dir_all(job.join("input")).unwrap();
    assert_eq!(
        JobFolder::open(&job).unwrap_err().to_string(),
        format!(
            "{}/input/input.json is missing or not a regular file: this is not a Cortex job folder",
            job.display()
        )
    );

    fs::write(job.join("input/input.json"), r#"{"data": "x"}"#).unwrap();
    assert_eq!(
        JobFolder::open(&job).unwrap_err().to_string(),
        format!(
            "{}/input/input.json is not a valid Cortex input (missing field `dataType` at line 1 column 13); Cortex writes a JSON object with at least `dataType`",
            job.display()
        )
    );

    fs::write(job.join("input/input.json"), r#"{"dataType": "ip"}"#).unwrap();
    fs::write(job.join("output"), "").unwrap();
    assert_eq!(
        JobFolder::open(&job).unwrap_err().to_string(),
        format!(
            "{}/output exists but is not a directory: the worker writes its report there, so remove it",
            job.display()
        )
    );
}

#[test]
fn remove_deletes_the_folder_but_not_what_its_symlinks_point_to_and_never_recurses() {
    let root = tempfile::tempdir().unwrap();
    let keep = root.path().join("keep");
    fs::create_dir(&keep).unwrap();
    fs::write(keep.join("k.txt"), "keep").unwrap();
    let folder =
        JobFolder::create(root.path(), "r", &JobInput::new("ip", "1.1.1.1"), None).unwrap();
    std::os::unix::fs::symlink(keep.join("k.txt"), folder.output_dir().join("link")).unwrap();
    std::os::unix::fs::symlink(&keep, folder.output_dir().join("dirlink")).unwrap();
    let mut dir =
        cap_std::fs::Dir::open_ambient_dir(folder.output_dir(), cap_std::ambient_authority())
            .unwrap();
    for _ in 0..3_000 {
        dir.create_dir("d").unwrap();
        dir = dir.open_dir("d").unwrap();
    }
    dir.write("leaf", "x").unwrap();
    drop(dir);
    let path = folder.path().to_owned();

    // Run on a small stack: a recursive remover overflows it on 3,000 levels.
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(128 * 1024)
            .spawn_scoped(scope, || folder.remove())
            .unwrap()
            .join()
            .unwrap()
    })
    .unwrap();

    assert!(!path.exists());
    assert_eq!(fs::read_to_string(keep.join("k.txt")).unwrap(), "keep");
    assert_eq!(
        fs::read_dir(root.path()).unwrap().count(),
        1,
        "only keep/ is left"
    );
}

/// Lists everything under `dir`, relative to it, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut queue = vec![dir.to_owned()];
    while let Some(current) = queue.pop() {
        for entry in fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            found.push(path.strip_prefix(dir).unwrap().display().to_string());
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                queue.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn remove_deletes_every_layout_a_job_leaves_and_nothing_else() {
    let root = tempfile::tempdir().unwrap();
    let mut with_cacerts = JobInput::new("ip", "1.1.1.1");
    with_cacerts.config.insert("cacerts".into(), json!("PEM"));
    let attachment = Attachment {
        source: AttachmentSource::Bytes(b"MZ"),
        filename: "a.exe",
        content_type: "application/octet-stream",
    };
    let file_input = JobInput {
        data: None,
        ..JobInput::new("file", "")
    };
    // (input, attachment, files the worker left in output/)
    let layouts: [(&JobInput, Option<Attachment<'_>>, &[&str]); 5] = [
        (&JobInput::new("ip", "1.1.1.1"), None, &["output.json"]),
        (&JobInput::new("ip", "1.1.1.1"), None, &[]),
        (&with_cacerts, None, &["output.json"]),
        (&file_input, Some(attachment), &["output.json"]),
        (
            &JobInput::new("ip", "1.1.1.1"),
            None,
            &["output.json", "report.pdf", "x.bin"],
        ),
    ];
    for (input, attachment, outputs) in layouts {
        let folder = JobFolder::create(root.path(), "r", input, attachment).unwrap();
        for name in outputs {
            fs::write(folder.output_dir().join(name), "{}").unwrap();
        }
        assert_eq!(
            tree(folder.path()).len(),
            3 + outputs.len()
                + usize::from(attachment.is_some())
                + usize::from(input == &with_cacerts),
            "the layout under test is the one intended"
        );
        folder.remove().unwrap();
        assert_eq!(tree(root.path()), Vec::<String>::new(), "{outputs:?}");
    }
}

#[test]
fn remove_does_not_follow_an_output_replaced_by_a_symlink() {
    let root = tempfile::tempdir().unwrap();
    let elsewhere = root.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    fs::write(elsewhere.join("output.json"), "keep").unwrap();
    let folder =
        JobFolder::create(root.path(), "s", &JobInput::new("ip", "1.1.1.1"), None).unwrap();
    fs::remove_dir(folder.output_dir()).unwrap();
    std::os::unix::fs::symlink(&elsewhere, folder.output_dir()).unwrap();

    folder.remove().unwrap();

    assert_eq!(tree(root.path()), ["elsewhere", "elsewhere/output.json"]);
    assert_eq!(
        fs::read_to_string(elsewhere.join("output.json")).unwrap(),
        "keep"
    );
}

/// A job folder at `root/job` with a valid input.json holding `input`.
fn job_with_input(root: &Path, input: &str) -> std::path::PathBuf {
    let job = root.join("job");
    fs::create_dir_all(job.join("input")).unwrap();
    fs::create_dir(job.join("output")).unwrap();
    fs::write(job.join("input/input.json"), input).unwrap();
    job
}

fn symlink_message(path: &Path) -> String {
    format!(
        "{} is a symlink: the runner follows no symlink in a job folder (it would read whatever the link points at, and show it to the worker); pass the folder Cortex created",
        path.display()
    )
}

#[test]
fn open_refuses_a_symlinked_input_folder() {
    let root = tempfile::tempdir().unwrap();
    let elsewhere = root.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    fs::write(
        elsewhere.join("input.json"),
        r#"{"dataType": "ip", "data": "1.1.1.1"}"#,
    )
    .unwrap();
    let job = root.path().join("job");
    fs::create_dir(&job).unwrap();
    std::os::unix::fs::symlink(&elsewhere, job.join("input")).unwrap();

    let error = JobFolder::open(&job).unwrap_err();

    assert!(matches!(error, FolderError::Symlink(_)), "{error:?}");
    assert_eq!(error.to_string(), symlink_message(&job.join("input")));
    // A symlink to a file (not a directory) is named the same way.
    fs::remove_file(job.join("input")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("input.json"), job.join("input")).unwrap();
    assert_eq!(
        JobFolder::open(&job).unwrap_err().to_string(),
        symlink_message(&job.join("input"))
    );
}

#[test]
fn open_refuses_a_symlinked_input_json() {
    let root = tempfile::tempdir().unwrap();
    let real = root.path().join("real.json");
    fs::write(&real, r#"{"dataType": "ip", "data": "1.1.1.1"}"#).unwrap();
    let job = root.path().join("job");
    fs::create_dir_all(job.join("input")).unwrap();
    std::os::unix::fs::symlink(&real, job.join("input/input.json")).unwrap();

    assert_eq!(
        JobFolder::open(&job).unwrap_err().to_string(),
        symlink_message(&job.join("input/input.json"))
    );
}

#[test]
fn open_refuses_a_symlinked_output_the_same_way() {
    let root = tempfile::tempdir().unwrap();
    let job = job_with_input(root.path(), r#"{"dataType": "ip", "data": "1.1.1.1"}"#);
    fs::remove_dir(job.join("output")).unwrap();
    std::os::unix::fs::symlink(root.path(), job.join("output")).unwrap();
    assert_eq!(
        JobFolder::open(&job).unwrap_err().to_string(),
        symlink_message(&job.join("output"))
    );
}

#[test]
fn open_refuses_an_attachment_that_is_a_symlink_or_not_a_regular_file() {
    let root = tempfile::tempdir().unwrap();
    let job = job_with_input(
        root.path(),
        r#"{"file": "attachment1", "filename": "a.eml", "contentType": "message/rfc822", "dataType": "file"}"#,
    );
    let attachment = job.join("input/attachment1");

    std::os::unix::fs::symlink("/etc/passwd", &attachment).unwrap();
    assert_eq!(
        JobFolder::open(&job).unwrap_err().to_string(),
        symlink_message(&attachment)
    );

    fs::remove_file(&attachment).unwrap();
    fs::create_dir(&attachment).unwrap();
    assert_eq!(
        JobFolder::open(&job).unwrap_err().to_string(),
        format!(
            "{} (the attachment named by `file` in input.json) is a directory, not a regular file",
            attachment.display()
        )
    );

    fs::remove_dir(&attachment).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &attachment,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    assert_eq!(
        JobFolder::open(&job).unwrap_err().to_string(),
        format!(
            "{} (the attachment named by `file` in input.json) is a special file (device, fifo or socket), not a regular file",
            attachment.display()
        )
    );

    fs::remove_file(&attachment).unwrap();
    assert_eq!(
        JobFolder::open(&job).unwrap_err().to_string(),
        format!(
            "{} (the attachment named by `file` in input.json) is missing, not a regular file",
            attachment.display()
        )
    );

    fs::write(&attachment, "From: a@example\n").unwrap();
    let folder = JobFolder::open(&job).unwrap();
    assert_eq!(folder.attachment_path(), Some(attachment));
}

#[test]
fn open_refuses_an_attachment_name_that_leaves_input() {
    let root = tempfile::tempdir().unwrap();
    let job = job_with_input(
        root.path(),
        r#"{"file": "../output/x", "dataType": "file"}"#,
    );
    assert_eq!(
        JobFolder::open(&job).unwrap_err().to_string(),
        format!(
            "{}/input/input.json names the attachment \"../output/x\" in `file`, which is not a plain file name in input/",
            job.display()
        )
    );
}

#[test]
fn open_refuses_levels_cortex_would_not_accept() {
    let root = tempfile::tempdir().unwrap();
    let job = job_with_input(
        root.path(),
        r#"{"dataType": "ip", "data": "1.1.1.1", "tlp": 9}"#,
    );
    let input = job.join("input/input.json");
    assert_eq!(
        JobFolder::open(&job).unwrap_err().to_string(),
        format!(
            "{}: `tlp` is 9, outside the levels Cortex accepts (0 to 3)",
            input.display()
        )
    );
    fs::write(
        &input,
        r#"{"dataType": "ip", "data": "1.1.1.1", "pap": 99999999999}"#,
    )
    .unwrap();
    assert_eq!(
        JobFolder::open(&job).unwrap_err().to_string(),
        format!(
            "{}: `pap` is 99999999999, outside the levels Cortex accepts (0 to 3)",
            input.display()
        )
    );
    fs::write(
        &input,
        r#"{"dataType": "ip", "data": "1.1.1.1", "tlp": -1}"#,
    )
    .unwrap();
    assert!(matches!(
        JobFolder::open(&job).unwrap_err(),
        FolderError::LevelOutOfRange { .. }
    ));
    fs::write(
        &input,
        r#"{"dataType": "ip", "data": "1.1.1.1", "tlp": 3, "pap": 0}"#,
    )
    .unwrap();
    let folder = JobFolder::open(&job).unwrap();
    assert_eq!((folder.input().tlp, folder.input().pap), (3, 0));
    assert_eq!(cortex_job::TLP_RANGE, 0..=3);
    assert_eq!(cortex_job::PAP_RANGE, 0..=3);
}

#[test]
fn attachment_size_reads_without_following_what_replaced_the_attachment_or_input() {
    let root = tempfile::tempdir().unwrap();
    let folder = pdf_job(root.path(), "j1");
    assert_eq!(folder.attachment_size().unwrap(), Some(8));
    let plain =
        JobFolder::create(root.path(), "j2", &JobInput::new("ip", "1.1.1.1"), None).unwrap();
    assert_eq!(plain.attachment_size().unwrap(), None);

    // Swapped for a symlink after the folder was opened: refused, not followed to its target.
    let path = folder.attachment_path().unwrap();
    let big = root.path().join("big");
    fs::write(&big, vec![0u8; 4096]).unwrap();
    fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(&big, &path).unwrap();
    assert_eq!(
        folder.attachment_size().unwrap_err().to_string(),
        symlink_message(&path)
    );

    // The same for `input/` itself.
    let input_dir = folder.input_dir();
    let moved = root.path().join("moved-input");
    fs::rename(&input_dir, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &input_dir).unwrap();
    assert_eq!(
        folder.attachment_size().unwrap_err().to_string(),
        symlink_message(&input_dir)
    );
}

#[test]
fn an_open_attachment_is_copied_from_its_descriptor_whatever_its_path_became() {
    let root = tempfile::tempdir().unwrap();
    let source = root.path().join("sample.bin");
    fs::write(&source, b"the checked bytes").unwrap();
    let file = fs::File::open(&source).unwrap();
    // The path now names something else: the copy still reads the file that was opened.
    fs::remove_file(&source).unwrap();
    fs::write(&source, b"swapped in later").unwrap();
    let input = JobInput::new("file", json!(null));
    let folder = JobFolder::create(
        root.path(),
        "open-file",
        &input,
        Some(Attachment {
            source: AttachmentSource::File(&file),
            filename: "sample.bin",
            content_type: "application/octet-stream",
        }),
    )
    .unwrap();
    let copied = fs::read(folder.attachment_path().unwrap()).unwrap();
    assert_eq!(copied, b"the checked bytes");
}
