//! Configuration layering, key by key: defaults < file < environment < flags, and exact errors.

use std::path::{Path, PathBuf};

use cortex_runner::config::{Config, ConfigLoader, Flags, SourcedValue};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn source_of<'a>(sources: &'a [SourcedValue], key: &str) -> (&'a str, &'a str) {
    let entry = sources
        .iter()
        .find(|s| s.key == key)
        .unwrap_or_else(|| panic!("no key {key}"));
    (entry.value.as_str(), entry.source.as_str())
}

#[test]
fn defaults_alone_are_the_documented_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "empty.toml", "");
    let loaded = ConfigLoader {
        file: Some(file),
        ..Default::default()
    }
    .load()
    .unwrap();
    assert_eq!(loaded.config, Config::default());
    let sources = loaded.sources();
    assert_eq!(source_of(&sources, "wasm.memory_mib"), ("256", "default"));
    assert_eq!(
        source_of(&sources, "kubernetes.enabled"),
        ("false", "default")
    );
    assert_eq!(source_of(&sources, "wasm.fuel"), ("(unset)", "default"));
    assert_eq!(
        source_of(&sources, "service.listen"),
        ("\"127.0.0.1:9980\"", "default")
    );
}

#[test]
fn each_layer_overrides_the_one_below_key_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "c.toml",
        "[wasm]\nmemory_mib = 128\ntimeout_s = 10\nconcurrency = 3\n[policies]\ndir = \"from-file\"\n[kubernetes]\nnamespace = \"file-ns\"\n",
    );
    let env = env(&[
        ("CORTEX_RUNNER_WASM__TIMEOUT_S", "20"),
        ("CORTEX_RUNNER_WASM__CONCURRENCY", "5"),
        ("CORTEX_RUNNER_POLICIES__DIR", "from-env"),
        ("UNRELATED", "ignored"),
    ]);
    let flags = Flags {
        policies: Some(PathBuf::from("from-flag")),
        ..Default::default()
    };
    let loaded = ConfigLoader {
        file: Some(file.clone()),
        env,
        flags,
    }
    .load()
    .unwrap();
    let c = &loaded.config;
    // Only in the file.
    assert_eq!(c.wasm.memory_mib, 128);
    assert_eq!(c.kubernetes.namespace, "file-ns");
    // File and environment: the environment wins.
    assert_eq!(c.wasm.timeout_s, 20);
    assert_eq!(c.wasm.concurrency, 5);
    // File, environment and flag: the flag wins.
    assert_eq!(c.policies.dir, PathBuf::from("from-flag"));
    // Nowhere: the default.
    assert_eq!(c.wasm.max_input_mib, 64);

    let sources = loaded.sources();
    let file_name = file.display().to_string();
    assert_eq!(
        source_of(&sources, "wasm.memory_mib"),
        ("128", file_name.as_str())
    );
    assert_eq!(
        source_of(&sources, "wasm.timeout_s"),
        ("20", "environment CORTEX_RUNNER_WASM__TIMEOUT_S")
    );
    assert_eq!(
        source_of(&sources, "policies.dir"),
        ("\"from-flag\"", "--policies")
    );
    assert_eq!(source_of(&sources, "wasm.max_input_mib"), ("64", "default"));
}

#[test]
fn the_config_file_comes_from_the_flag_before_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let by_env = write(dir.path(), "env.toml", "[scheduler]\nmax_running = 7\n");
    let by_flag = write(dir.path(), "flag.toml", "[scheduler]\nmax_running = 9\n");
    let env = env(&[("CORTEX_RUNNER_CONFIG", by_env.to_str().unwrap())]);
    let loaded = ConfigLoader {
        file: None,
        env: env.clone(),
        flags: Flags::default(),
    }
    .load()
    .unwrap();
    assert_eq!(loaded.config.scheduler.max_running, 7);
    assert_eq!(loaded.file.as_deref(), Some(by_env.as_path()));
    let loaded = ConfigLoader {
        file: Some(by_flag.clone()),
        env,
        flags: Flags::default(),
    }
    .load()
    .unwrap();
    assert_eq!(loaded.config.scheduler.max_running, 9);
}

#[test]
fn catalog_flags_add_to_the_configured_catalogs() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "c.toml",
        "[catalogs]\nanalyzers = [\"a.json\"]\n",
    );
    let flags = Flags {
        catalogs: vec![
            "more/analyzers.json".into(),
            "x/responders.json".into(),
            "responder:plain.json".into(),
        ],
        ..Default::default()
    };
    let loaded = ConfigLoader {
        file: Some(file),
        env: vec![],
        flags,
    }
    .load()
    .unwrap();
    // The file's path is relative to the file, the flags' to the working directory.
    assert_eq!(
        loaded.config.catalogs.analyzers,
        vec![
            dir.path().join("a.json"),
            PathBuf::from("more/analyzers.json")
        ]
    );
    assert_eq!(
        loaded.config.catalogs.responders,
        vec![
            PathBuf::from("x/responders.json"),
            PathBuf::from("plain.json")
        ]
    );
    let sources = loaded.sources();
    assert_eq!(
        source_of(&sources, "catalogs.analyzers").1,
        format!("{} + --catalog", loaded.file.unwrap().display())
    );
}

#[test]
fn secrets_are_masked_in_config_show() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "c.toml",
        "[service]\ntoken = \"s3cr3t\"\ntoken_file = \"/run/token\"\n",
    );
    let loaded = ConfigLoader {
        file: Some(file),
        ..Default::default()
    }
    .load()
    .unwrap();
    assert_eq!(loaded.config.service.token.as_deref(), Some("s3cr3t"));
    let sources = loaded.sources();
    assert_eq!(source_of(&sources, "service.token").0, "********");
    assert_eq!(
        source_of(&sources, "service.token_file").0,
        "\"/run/token\""
    );
    assert!(!format!("{sources:?}").contains("s3cr3t"));
}

fn load_err(file_text: &str, env_pairs: &[(&str, &str)]) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "c.toml", file_text);
    let err = ConfigLoader {
        file: Some(file.clone()),
        env: env(env_pairs),
        flags: Flags::default(),
    }
    .load()
    .unwrap_err()
    .to_string();
    (err, file.display().to_string())
}

#[test]
fn a_bad_pinned_address_names_the_file_the_entry_and_the_form() {
    let (err, file) = load_err(
        "[wasm.network]\nresolve = { \"api.example.test:443\" = [\"203.0.113.7\"] }\n",
        &[],
    );
    assert_eq!(
        err,
        format!(
            "config {file}: `wasm.network.resolve`: \"api.example.test:443\": \"203.0.113.7\" is \
             not address:port: expected \"host:port\" = [\"address:port\", ...], e.g. \
             \"api.abuseipdb.com:443\" = [\"203.0.113.7:443\"]"
        )
    );
    let (err, file) = load_err(
        "[wasm.network]\nresolve = { \"api.example.test\" = [] }\n",
        &[],
    );
    assert_eq!(
        err,
        format!(
            "config {file}: `wasm.network.resolve`: key \"api.example.test\": expected \
             \"host:port\" = [\"address:port\", ...], e.g. \"api.abuseipdb.com:443\" = \
             [\"203.0.113.7:443\"]"
        )
    );
}

#[test]
fn an_unknown_key_in_the_file_names_the_file_key_and_choices() {
    let (err, file) = load_err("[wasm]\nmemry = 3\n", &[]);
    assert_eq!(
        err,
        format!(
            "config {file}: unknown key `wasm.memry` (expected one of: enabled, module_dirs, builtin_modules, cache_dir, memory_mib, timeout_s, fuel, max_input_mib, stdout_kib, stderr_kib, concurrency, network)"
        )
    );
}

#[test]
fn an_unknown_section_is_an_error() {
    let (err, file) = load_err("[wasmm]\nx = 1\n", &[]);
    assert_eq!(
        err,
        format!(
            "config {file}: unknown key `wasmm` (expected one of: jobs, policies, catalogs, scheduler, wasm, kubernetes, service)"
        )
    );
}

#[test]
fn an_unknown_key_in_the_environment_names_the_variable() {
    let (err, _) = load_err("", &[("CORTEX_RUNNER_KUBERNETES__NAMESPAC", "x")]);
    assert!(
        err.starts_with("config environment CORTEX_RUNNER_KUBERNETES__NAMESPAC: unknown key `kubernetes.namespac` (expected one of: enabled, kubeconfig,"),
        "{err}"
    );
}

#[test]
fn a_wrong_type_names_the_key_and_the_expected_type() {
    let (err, file) = load_err("[wasm]\nmemory_mib = \"lots\"\n", &[]);
    assert_eq!(
        err,
        format!(
            "config {file}: `wasm.memory_mib` must be a non-negative integer, found string \"lots\""
        )
    );
    let (err, _) = load_err("", &[("CORTEX_RUNNER_KUBERNETES__ENABLED", "maybe")]);
    assert_eq!(
        err,
        "config environment CORTEX_RUNNER_KUBERNETES__ENABLED: `kubernetes.enabled` must be a boolean, found string \"maybe\""
    );
}

#[test]
fn invalid_values_name_their_source() {
    let (err, file) = load_err("[scheduler]\nmax_running = 0\n", &[]);
    assert_eq!(
        err,
        format!(
            "config {file}: `scheduler.max_running` must be an integer from 1 to 4096, found 0"
        )
    );
    let (err, _) = load_err("", &[("CORTEX_RUNNER_SERVICE__LISTEN", "nowhere")]);
    assert_eq!(
        err,
        "config environment CORTEX_RUNNER_SERVICE__LISTEN: `service.listen` must be a socket address such as 127.0.0.1:9980, found \"nowhere\""
    );
    let (err, file) = load_err("[kubernetes]\nmemory_limit = \"lots\"\n", &[]);
    assert_eq!(
        err,
        format!(
            "config {file}: `kubernetes.memory_limit` must be a Kubernetes quantity such as 500m, 1, 256Mi or 1Gi, found \"lots\""
        )
    );
    let (err, file) = load_err(
        "[kubernetes]\nin_cluster = true\nkubeconfig = \"/k\"\n",
        &[],
    );
    assert_eq!(
        err,
        format!(
            "config {file}: `kubernetes.kubeconfig` must be no kubeconfig when kubernetes.in_cluster = true, found \"/k\""
        )
    );
}

#[test]
fn a_syntax_error_names_the_file_and_line() {
    let (err, file) = load_err("[wasm]\nmemory_mib = = 3\n", &[]);
    assert!(err.starts_with(&format!("config {file}:2: ")), "{err}");
}

#[test]
fn a_missing_config_file_is_an_error() {
    let err = ConfigLoader {
        file: Some("/nonexistent/c.toml".into()),
        ..Default::default()
    }
    .load()
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "config file /nonexistent/c.toml (given by --config) does not exist"
    );
    let env = env(&[("CORTEX_RUNNER_CONFIG", "/nonexistent/e.toml")]);
    let err = ConfigLoader {
        file: None,
        env,
        flags: Flags::default(),
    }
    .load()
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "config file /nonexistent/e.toml (given by CORTEX_RUNNER_CONFIG) does not exist"
    );
}

#[test]
fn the_shipped_config_file_loads_and_has_no_kubernetes() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config.toml");
    let loaded = ConfigLoader {
        file: Some(shipped),
        ..Default::default()
    }
    .load()
    .unwrap();
    assert!(!loaded.config.kubernetes.enabled);
    assert!(loaded.config.wasm.enabled);
}

/// Every ranged key: (section, key, lowest accepted, highest accepted).
const RANGED: [(&str, &str, i64, i64); 22] = [
    ("jobs", "max_output_mib", 1, 1024),
    ("jobs", "max_artifacts", 1, 1_000_000),
    ("jobs", "max_artifact_mib", 1, 1_048_576),
    ("jobs", "max_artifact_total_mib", 1, 1_048_576),
    ("scheduler", "max_running", 1, 4096),
    ("wasm", "memory_mib", 1, 4096),
    ("wasm", "timeout_s", 1, 86_400),
    ("wasm", "fuel", 1, 1_000_000_000_000_000),
    ("wasm", "max_input_mib", 1, 1_048_576),
    ("wasm", "stdout_kib", 1, 65_536),
    ("wasm", "stderr_kib", 1, 65_536),
    ("wasm", "concurrency", 1, 1024),
    ("kubernetes", "timeout_s", 1, 604_800),
    ("kubernetes", "ttl_s", 0, 604_800),
    ("kubernetes", "concurrency", 1, 1024),
    ("kubernetes", "run_as_user", 0, 2_147_483_647),
    ("kubernetes", "run_as_group", 0, 2_147_483_647),
    ("kubernetes", "fs_group", 0, 2_147_483_647),
    ("kubernetes", "image_pull_grace_s", 0, 86_400),
    ("kubernetes", "start_grace_s", 0, 86_400),
    ("kubernetes", "api_qps", 1, 1000),
    ("kubernetes", "log_tail_kib", 1, 1024),
];

#[test]
fn every_limit_outside_its_range_is_refused_naming_file_key_value_and_range() {
    for (section, key, low, high) in RANGED {
        let mut outside = vec![high + 1];
        // Below 0 an unsigned key is a type error, tested elsewhere.
        if low > 0 || key.contains("run_as") || key == "fs_group" {
            outside.push(low - 1);
        }
        for value in outside {
            let (err, file) = load_err(&format!("[{section}]\n{key} = {value}\n"), &[]);
            assert_eq!(
                err,
                format!(
                    "config {file}: `{section}.{key}` must be an integer from {low} to {high}, found {value}"
                )
            );
            // The same value from the environment, over a file that does not set the key.
            let var = format!("CORTEX_RUNNER_{section}__{key}").to_uppercase();
            let (err, _) = load_err("", &[(&var, &value.to_string())]);
            assert_eq!(
                err,
                format!(
                    "config environment {var}: `{section}.{key}` must be an integer from {low} to {high}, found {value}"
                )
            );
        }
    }
    // The value of issue 9 that wrapped to 1 MiB, from the environment.
    let (err, _) = load_err("", &[("CORTEX_RUNNER_WASM__MEMORY_MIB", "17592186044417")]);
    assert_eq!(
        err,
        "config environment CORTEX_RUNNER_WASM__MEMORY_MIB: `wasm.memory_mib` must be an integer from 1 to 4096, found 17592186044417"
    );
}

#[test]
fn every_limit_at_either_edge_of_its_range_is_accepted() {
    for edge in [0, 1] {
        let mut table = toml::Table::new();
        for (section, key, low, high) in RANGED {
            let value = if edge == 0 { low } else { high };
            table
                .entry(section)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .unwrap()
                .insert(key.into(), toml::Value::Integer(value));
        }
        let dir = tempfile::tempdir().unwrap();
        let text = table.to_string();
        let file = write(dir.path(), "c.toml", &text);
        let loaded = ConfigLoader {
            file: Some(file),
            ..Default::default()
        }
        .load()
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
        let sources = loaded.sources();
        for (section, key, low, high) in RANGED {
            let value = if edge == 0 { low } else { high };
            assert_eq!(
                source_of(&sources, &format!("{section}.{key}")).0,
                value.to_string()
            );
        }
    }
}

#[test]
fn relative_paths_in_the_file_resolve_against_its_directory() {
    // The configuration lives in <tmp>/etc/cortex; the test's working directory is the crate's.
    let dir = tempfile::tempdir().unwrap();
    let etc = dir.path().join("etc/cortex");
    std::fs::create_dir_all(&etc).unwrap();
    let file = write(
        &etc,
        "config.toml",
        r#"
[jobs]
root = "jobs"
[policies]
dir = "policies"
[catalogs]
analyzers = ["catalogs/analyzers.json", "/abs/analyzers.json"]
responders = ["../responders"]
[wasm]
module_dirs = ["modules"]
cache_dir = "cache"
[kubernetes]
kubeconfig = "kubeconfig"
[service]
token_file = "secrets/token"
"#,
    );
    let loaded = ConfigLoader {
        file: Some(file),
        ..Default::default()
    }
    .load()
    .unwrap();
    let c = &loaded.config;
    assert_eq!(c.jobs.root, etc.join("jobs"));
    assert_eq!(c.policies.dir, etc.join("policies"));
    assert_eq!(
        c.catalogs.analyzers,
        vec![
            etc.join("catalogs/analyzers.json"),
            PathBuf::from("/abs/analyzers.json")
        ]
    );
    assert_eq!(c.catalogs.responders, vec![etc.join("../responders")]);
    assert_eq!(c.wasm.module_dirs, vec![etc.join("modules")]);
    assert_eq!(c.wasm.cache_dir, Some(etc.join("cache")));
    assert_eq!(c.kubernetes.kubeconfig, Some(etc.join("kubeconfig")));
    assert_eq!(c.service.token_file, Some(etc.join("secrets/token")));
    // `config show` prints the resolved path.
    assert_eq!(
        source_of(&loaded.sources(), "policies.dir").0,
        format!("{:?}", etc.join("policies").display().to_string())
    );
}

#[test]
fn relative_paths_from_the_environment_and_flags_stay_relative_to_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "c.toml", "[policies]\ndir = \"p\"\n");
    let loaded = ConfigLoader {
        file: Some(file.clone()),
        env: env(&[
            ("CORTEX_RUNNER_POLICIES__DIR", "env-policies"),
            ("CORTEX_RUNNER_WASM__MODULE_DIRS", "[\"env-modules\"]"),
        ]),
        flags: Flags {
            job_root: Some("flag-jobs".into()),
            ..Default::default()
        },
    }
    .load()
    .unwrap();
    assert_eq!(loaded.config.policies.dir, PathBuf::from("env-policies"));
    assert_eq!(
        loaded.config.wasm.module_dirs,
        vec![PathBuf::from("env-modules")]
    );
    assert_eq!(loaded.config.jobs.root, PathBuf::from("flag-jobs"));
}

#[test]
fn the_module_cache_is_on_by_default_and_an_empty_value_turns_it_off() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty.toml", "");
    let loaded = ConfigLoader {
        file: Some(empty.clone()),
        ..Default::default()
    }
    .load()
    .unwrap();
    let default = wasm_host::default_cache_dir();
    assert!(default.is_some(), "the tests run with HOME set");
    assert_eq!(loaded.config.wasm.cache_dir, default);
    assert_eq!(
        source_of(&loaded.sources(), "wasm.cache_dir"),
        (
            format!("{:?}", default.unwrap().display().to_string()).as_str(),
            "default"
        )
    );
    let off = write(dir.path(), "off.toml", "[wasm]\ncache_dir = \"\"\n");
    let loaded = ConfigLoader {
        file: Some(off.clone()),
        ..Default::default()
    }
    .load()
    .unwrap();
    assert_eq!(loaded.config.wasm.cache_dir, None);
    assert_eq!(
        source_of(&loaded.sources(), "wasm.cache_dir"),
        ("(unset)", off.display().to_string().as_str())
    );
    let loaded = ConfigLoader {
        file: Some(empty),
        env: env(&[("CORTEX_RUNNER_WASM__CACHE_DIR", "")]),
        flags: Flags::default(),
    }
    .load()
    .unwrap();
    assert_eq!(loaded.config.wasm.cache_dir, None);
}

#[test]
fn an_integer_that_does_not_fit_its_key_is_refused_with_the_range() {
    for (text, key, range, found) in [
        (
            "[scheduler]\nmax_running = 5000000000\n",
            "scheduler.max_running",
            "1 to 4096",
            "5000000000",
        ),
        (
            "[wasm]\nconcurrency = 4294967296\n",
            "wasm.concurrency",
            "1 to 1024",
            "4294967296",
        ),
        (
            "[wasm]\nmemory_mib = -1\n",
            "wasm.memory_mib",
            "1 to 4096",
            "-1",
        ),
        (
            "[kubernetes]\nttl_s = -5\n",
            "kubernetes.ttl_s",
            "0 to 604800",
            "-5",
        ),
    ] {
        let (err, file) = load_err(text, &[]);
        assert_eq!(
            err,
            format!("config {file}: `{key}` must be an integer from {range}, found {found}")
        );
    }
}
