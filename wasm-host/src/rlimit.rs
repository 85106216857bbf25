//! The process's limit on open descriptors, raised once at start-up so that many guests (each
//! under its own cap, [`SandboxConfig::max_open_files`](crate::SandboxConfig)) fit in one
//! process.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Raises the soft limit on open descriptors (`RLIMIT_NOFILE`) to the hard limit and returns the
/// new soft limit (`None`: unlimited). The default soft limit (often 1,024) is far below what a
/// process running many guests needs; the hard limit is what the administrator allows.
pub fn raise_open_files_limit() -> std::io::Result<Option<u64>> {
    let limit = getrlimit(Resource::Nofile);
    if limit.current == limit.maximum {
        return Ok(limit.current);
    }
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    )?;
    Ok(getrlimit(Resource::Nofile).current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_limit() {
        let before = getrlimit(Resource::Nofile);
        let hard = before.maximum;
        let lowered = hard.map_or(512, |h| h.min(512));
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(lowered),
                maximum: hard,
            },
        )
        .unwrap();
        assert_eq!(getrlimit(Resource::Nofile).current, Some(lowered));
        assert_eq!(raise_open_files_limit().unwrap(), hard);
        assert_eq!(getrlimit(Resource::Nofile).current, hard);
    }
}
