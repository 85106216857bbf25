//! `deploy/Dockerfile` without a Docker engine: every path it copies exists, the build stage
//! holds the whole workspace, the runtime image's layout works (the shipped config finds the
//! shipped policies, laid out as the image lays them), and the command lines of the image and
//! of the Kubernetes manifests parse with the real binary. Also: the cluster's
//! `deploy/kustomize/base/config.toml` is a valid configuration that names the image's paths.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One instruction of the Dockerfile: the keyword (upper case), its flags (`--from=build`)
/// and its words; JSON-form arguments (`["a", "b"]`) are one word each.
#[derive(Debug, Clone)]
struct Instruction {
    keyword: String,
    flags: Vec<String>,
    args: Vec<String>,
}

/// The Dockerfile's stages: the stage name (`AS name`, or its index) and its instructions.
fn stages() -> Vec<(String, Vec<Instruction>)> {
    let text = std::fs::read_to_string(repo().join("deploy/Dockerfile")).unwrap();
    let mut logical = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                logical.push(std::mem::take(&mut current));
            }
        }
    }
    let mut stages: Vec<(String, Vec<Instruction>)> = Vec::new();
    for line in logical {
        let (keyword, rest) = line.split_once(' ').unwrap();
        let keyword = keyword.to_ascii_uppercase();
        let rest = rest.trim();
        let words: Vec<String> = if rest.starts_with('[') {
            serde_json::from_str(rest).unwrap_or_else(|e| panic!("{line}: {e}"))
        } else {
            rest.split_whitespace().map(String::from).collect()
        };
        let (flags, args): (Vec<String>, Vec<String>) = words
            .into_iter()
            .partition(|w| w.starts_with("--") && keyword == "COPY");
        let instruction = Instruction {
            keyword: keyword.clone(),
            flags,
            args,
        };
        if keyword == "FROM" {
            let name = match instruction.args.as_slice() {
                [_, as_, name] if as_.eq_ignore_ascii_case("as") => name.clone(),
                _ => stages.len().to_string(),
            };
            stages.push((name, vec![instruction]));
        } else if let Some((_, list)) = stages.last_mut() {
            list.push(instruction);
        }
    }
    stages
}

fn find<'a>(stage: &'a [Instruction], keyword: &str) -> Vec<&'a Instruction> {
    stage.iter().filter(|i| i.keyword == keyword).collect()
}

/// The paths `Dockerfile.dockerignore` keeps out of the build context.
fn ignored() -> Vec<String> {
    std::fs::read_to_string(repo().join("deploy/Dockerfile.dockerignore"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.trim().trim_end_matches('/').to_string())
        .collect()
}

/// The binary's file name as cargo builds it (`target/release/<this>`).
fn binary_name() -> String {
    Path::new(env!("CARGO_BIN_EXE_cortex-runner"))
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

/// The COPY instructions from the build context, as (source, destination) pairs.
fn context_copies(stage: &[Instruction]) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for copy in find(stage, "COPY") {
        if copy.flags.iter().any(|f| f.starts_with("--from=")) {
            continue;
        }
        let (dest, sources) = copy.args.split_last().unwrap();
        for source in sources {
            pairs.push((source.clone(), dest.clone()));
        }
    }
    pairs
}

#[test]
fn the_dockerfile_copies_what_exists_and_builds_the_whole_workspace() {
    let stages = stages();
    let names: Vec<&str> = stages.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["build", "1"]);
    let (_, build) = &stages[0];
    let (_, runtime) = &stages[1];

    // Every source copied from the context exists and is not kept out of it.
    let ignored = ignored();
    for (_, stage) in &stages {
        for (source, _) in context_copies(stage) {
            let path = repo().join(&source);
            assert!(
                path.exists(),
                "COPY {source}: {} does not exist",
                path.display()
            );
            let source = source.trim_end_matches('/');
            assert!(
                !ignored
                    .iter()
                    .any(|i| source == i || source.starts_with(&format!("{i}/"))),
                "COPY {source} is excluded by Dockerfile.dockerignore"
            );
        }
    }

    // The build stage holds the manifests, the lock file, the toolchain file and every
    // workspace member (cargo loads them all, even to build one package).
    assert_eq!(find(build, "WORKDIR")[0].args, ["/src"]);
    let copied: Vec<String> = context_copies(build)
        .into_iter()
        .map(|(s, _)| s.trim_end_matches('/').to_string())
        .collect();
    for file in ["Cargo.toml", "Cargo.lock", "rust-toolchain.toml"] {
        assert!(
            copied.iter().any(|c| c == file),
            "{file} is not copied: {copied:?}"
        );
    }
    let manifest: toml::Table = std::fs::read_to_string(repo().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    for member in manifest["workspace"]["members"].as_array().unwrap() {
        let member = member.as_str().unwrap();
        assert!(
            copied
                .iter()
                .any(|c| member == c || member.starts_with(&format!("{c}/"))),
            "workspace member {member} is not copied into the build stage: {copied:?}"
        );
    }

    // The build: the wasm target the analyzers need (pinned by rust-toolchain.toml too), the
    // locked release build of the runner, its binary installed where the runtime stage takes it.
    let toolchain = std::fs::read_to_string(repo().join("rust-toolchain.toml")).unwrap();
    assert!(toolchain.contains("\"wasm32-wasip1\""), "{toolchain}");
    let run: Vec<String> = find(build, "RUN")
        .iter()
        .map(|i| i.args.join(" "))
        .collect();
    let run = run.join("\n");
    assert!(run.contains("rustup target add wasm32-wasip1"), "{run}");
    assert!(
        run.contains("cargo build --release --locked -p cortex-runner"),
        "{run}"
    );
    let bin = binary_name();
    let installed = format!("/out/{bin}");
    assert!(
        run.contains(&format!("target/release/{bin} {installed}")),
        "{run}"
    );

    // The runtime stage takes only that binary from the build stage.
    let from_build: Vec<&Instruction> = find(runtime, "COPY")
        .into_iter()
        .filter(|c| c.flags.iter().any(|f| f.starts_with("--from=")))
        .collect();
    assert_eq!(from_build.len(), 1, "{from_build:?}");
    assert_eq!(from_build[0].flags, ["--from=build"]);
    assert_eq!(from_build[0].args[0], installed);
    let binary = &from_build[0].args[1];
    assert_eq!(
        find(runtime, "ENTRYPOINT")[0].args,
        std::slice::from_ref(binary)
    );

    // Not root, by number (runAsNonRoot can only check a numeric user).
    let user = &find(runtime, "USER")[0].args[0];
    let uid: u32 = user.split(':').next().unwrap().parse().unwrap();
    assert_ne!(uid, 0);
}

/// Lays out the runtime stage's files copied from the context under `root`, as the image has
/// them.
fn runtime_layout(root: &Path) {
    let stages = stages();
    for (source, dest) in context_copies(&stages[1].1) {
        let from = repo().join(&source);
        let to = root.join(dest.trim_start_matches('/'));
        if from.is_dir() {
            std::fs::create_dir_all(&to).unwrap();
            for entry in std::fs::read_dir(&from).unwrap() {
                let entry = entry.unwrap();
                std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
            }
        } else {
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&from, &to).unwrap();
        }
    }
}

fn runner(args: &[&str], envs: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cortex-runner"));
    cmd.args(args).env_remove("CORTEX_RUNNER_CONFIG");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// `cortex-runner analyzers --json` as (worker, backend) pairs, after checking the exit code.
fn workers(out: &Output) -> BTreeMap<String, String> {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    list.iter()
        .map(|w| {
            (
                w["name"].as_str().unwrap().to_string(),
                w["backend"].as_str().unwrap_or("none").to_string(),
            )
        })
        .collect()
}

/// The four built-in analyzers, each in the sandbox by its shipped policy.
fn builtin_on_wasm() -> BTreeMap<String, String> {
    [
        "AbuseIPDB",
        "EmlParser",
        "FileInfo",
        "GreyNoise",
        "MSDefenderOffice365_SafeLinksDecoder",
        "URLhaus",
        "ValidateObservable",
    ]
    .into_iter()
    .map(|w| (w.to_string(), "wasm".to_string()))
    .collect()
}

#[test]
fn the_image_layout_runs_the_shipped_config_with_the_shipped_policies() {
    let dir = tempfile::tempdir().unwrap();
    runtime_layout(dir.path());
    // The image's default command names this file; the shipped config.toml finds `policies`
    // beside itself, where the Dockerfile puts them.
    let stages = stages();
    let cmd = &find(&stages[1].1, "CMD")[0].args;
    let config = &cmd[cmd.iter().position(|a| a == "--config").unwrap() + 1];
    let config = dir.path().join(config.trim_start_matches('/'));
    let out = runner(
        &["analyzers", "--json", "--config", config.to_str().unwrap()],
        &[("XDG_CACHE_HOME", dir.path())],
    );
    assert_eq!(workers(&out), builtin_on_wasm());
}

#[test]
fn the_cluster_config_is_valid_and_names_the_image_paths() {
    let base = repo().join("deploy/kustomize/base/config.toml");
    let out = runner(&["config", "show", "--config", base.to_str().unwrap()], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The policies directory is the image's: the same workers as the image's default config,
    // with the image's layout (the absolute directory redirected into the laid-out image).
    let config: toml::Table = std::fs::read_to_string(&base).unwrap().parse().unwrap();
    let policies = config["policies"]["dir"].as_str().unwrap();
    let stages = stages();
    assert!(
        context_copies(&stages[1].1)
            .iter()
            .any(|(source, dest)| source.trim_end_matches('/') == "policies"
                && dest.trim_end_matches('/') == policies),
        "policies.dir = {policies:?} is not where the Dockerfile copies policies/"
    );
    let dir = tempfile::tempdir().unwrap();
    runtime_layout(dir.path());
    let out = runner(
        &["analyzers", "--json", "--config", base.to_str().unwrap()],
        &[
            (
                "CORTEX_RUNNER_POLICIES__DIR",
                &dir.path().join(policies.trim_start_matches('/')),
            ),
            ("XDG_CACHE_HOME", dir.path()),
        ],
    );
    assert_eq!(workers(&out), builtin_on_wasm());
}

#[test]
fn the_image_and_manifest_command_lines_parse() {
    let stages = stages();
    let image_cmd = find(&stages[1].1, "CMD")[0].args.clone();
    let deployment: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(repo().join("deploy/kustomize/base/deployment.yaml")).unwrap(),
    )
    .unwrap();
    let args_of = |container: &Value| -> Vec<String> {
        serde_json::from_value(container["args"].clone()).unwrap()
    };
    let sidecar: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(
            repo().join("deploy/kustomize/overlays/sidecar/cortex-sidecar.yaml"),
        )
        .unwrap(),
    )
    .unwrap();
    let init = sidecar["spec"]["template"]["spec"]["initContainers"]
        .as_array()
        .unwrap();
    let lines = [
        (image_cmd, "serve"),
        (
            args_of(&deployment["spec"]["template"]["spec"]["containers"][0]),
            "serve",
        ),
        (args_of(&init[0]), "serve"),
        (args_of(&init[1]), "catalog export"),
    ];
    for (args, subcommand) in lines {
        assert!(
            args.join(" ").starts_with(subcommand),
            "{args:?} is not `{subcommand}`"
        );
        // clap parses (and checks the value of) every flag before `--help`, which then prints
        // the help instead of running: an unknown flag or a bad value fails here.
        let mut with_help: Vec<&str> = args.iter().map(String::as_str).collect();
        with_help.push("--help");
        let out = runner(&with_help, &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("Usage: cortex-runner {subcommand}")),
            "{stdout}"
        );
        // A misspelt flag before --help is refused (exit 2), so the check above can fail.
        let mut wrong: Vec<&str> = args.iter().map(String::as_str).collect();
        wrong.extend(["--listn", "0.0.0.0:9980", "--help"]);
        assert_eq!(runner(&wrong, &[]).status.code(), Some(2), "{wrong:?}");
    }
}
