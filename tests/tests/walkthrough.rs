//! `docs/walkthrough.md` as written: every ```bash block runs, in order, in one bash with an
//! empty HOME and the built binaries first on PATH; each ```output block lists lines that the
//! block before it must print. A page that no longer matches the product fails here.
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The ports the walkthrough's two clusters listen on.
const PORTS: [u16; 9] = [
    11223, 17010, 17011, 20151, 31530, 21223, 27010, 21151, 21530,
];
const DEADLINE: Duration = Duration::from_secs(300);

struct Block {
    /// The line of the page the block starts on, for messages.
    line: usize,
    code: String,
    expected: Vec<String>,
}

fn blocks(page: &str) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    let mut lines = page.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let fence = line.trim_end();
        if fence != "```bash" && fence != "```output" {
            continue;
        }
        let body: Vec<&str> = lines
            .by_ref()
            .map(|(_, l)| l)
            .take_while(|l| l.trim_end() != "```")
            .collect();
        if fence == "```bash" {
            out.push(Block {
                line: n + 1,
                code: body.join("\n"),
                expected: Vec::new(),
            });
        } else {
            let last = out.last_mut().unwrap_or_else(|| {
                panic!(
                    "line {}: an output block with no bash block before it",
                    n + 1
                )
            });
            last.expected.extend(
                body.iter()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| l.trim().to_string()),
            );
        }
    }
    out
}

/// Stops whatever clusters the page started, also when the test fails half-way.
struct Home(tempfile::TempDir);

impl Drop for Home {
    fn drop(&mut self) {
        for cluster in ["qs2", "qs"] {
            let stop = self.0.path().join(cluster).join("zato-qs-stop.sh");
            if stop.exists() {
                let _ = Command::new("bash")
                    .arg(&stop)
                    .env("HOME", self.0.path())
                    .output();
            }
        }
    }
}

fn marker(i: usize) -> String {
    format!("@@walkthrough-block-{i}@@")
}

#[test]
fn walkthrough_runs_as_written() {
    let page_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/walkthrough.md");
    let page = std::fs::read_to_string(&page_path).unwrap_or_else(|e| panic!("{e}"));
    let blocks = blocks(&page);
    assert!(
        blocks.len() >= 10,
        "only {} bash blocks found",
        blocks.len()
    );
    for port in PORTS {
        if std::net::TcpListener::bind(("0.0.0.0", port)).is_err() {
            panic!(
                "port {port} is taken; the walkthrough's clusters need {PORTS:?}: stop what listens there (`ss -ltnp 'sport = {port}'`)"
            );
        }
    }
    let home = Home(tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")));
    let mut script = String::from("set -euo pipefail\nexec 2>&1\n");
    for (i, b) in blocks.iter().enumerate() {
        script.push_str(&format!("echo '{}'\n{}\n", marker(i), b.code));
    }
    script.push_str(&format!("echo '{}'\n", marker(blocks.len())));
    let bins: PathBuf = zato_tests::bin_dir();
    let path = format!(
        "{}:{}",
        bins.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(home.0.path())
        .env("HOME", home.0.path())
        .env("PATH", path)
        .env_remove("ZATO_ADMIN_INVOKE_PASSWORD")
        .env_remove("ZATO_SECRET_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        // Its own process group: a command that hangs is killed with the shell.
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run bash: {e}"));
    // Read on a thread so that a hung command is caught by the deadline below.
    let mut stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
            break Some(status);
        }
        if started.elapsed() > DEADLINE {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = reader.join().unwrap_or_default();
    // Split the output at the markers: part i is block i's.
    let mut parts: Vec<&str> = Vec::new();
    let mut rest = text.as_str();
    for i in 0..=blocks.len() {
        let Some(at) = rest.find(&marker(i)) else {
            break;
        };
        if i > 0 {
            parts.push(&rest[..at]);
        }
        rest = &rest[at + marker(i).len()..];
    }
    let ran = parts.len();
    if ran < blocks.len() {
        let b = &blocks[ran];
        panic!(
            "docs/walkthrough.md line {}: the block {} ({status:?}):\n{}\n--- its output:\n{rest}",
            b.line,
            if status.is_none() {
                "did not finish in time"
            } else {
                "failed"
            },
            b.code
        );
    }
    for (b, out) in blocks.iter().zip(parts) {
        for want in &b.expected {
            assert!(
                out.contains(want.as_str()),
                "docs/walkthrough.md line {}: `{want}` not in the output of:\n{}\n--- its output:\n{out}",
                b.line,
                b.code
            );
        }
    }
    assert_eq!(status.map(|s| s.success()), Some(true), "{text}");
}
