//! Scheduler jobs through the admin API (`zato.scheduler.job.*`): definitions checked as the
//! scheduler plans them, each planned run recorded once (`fire`), what the service sees
//! (channel `scheduler`, `self.request.scheduler`, before/after_job hooks), execute-now,
//! one-time jobs gone after their run and `self.schedule.onetime`.
use std::path::Path;

use chrono::Timelike as _;
use std::time::Duration;

use serde_json::{Value, json};
use zato_common::admin::{AdminClient, AdminError, AdminResponse};
use zato_tests::{Backend, Options, TestCluster, eventually};

const JOBS: &str = include_str!("fixtures/jobs.py");

fn refused(r: Result<AdminResponse, AdminError>) -> String {
    match r {
        Ok(r) => panic!("accepted: {:?}", r.data),
        Err(e) => e.to_string(),
    }
}

async fn call(admin: &AdminClient, service: &str, payload: Value) -> Value {
    admin
        .invoke(service, &payload)
        .await
        .unwrap_or_else(|e| panic!("{service}: {e}"))
        .data
}

/// The runs recorded in `out` once there are `n` of them.
async fn runs(out: &Path, n: usize) -> Vec<Value> {
    let got = eventually(Duration::from_secs(5), || async {
        let text = std::fs::read_to_string(out).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        (lines.len() >= n).then_some(lines)
    })
    .await;
    got.unwrap_or_else(|| panic!("fewer than {n} runs in {}", out.display()))
}

async fn jobs_on(backend: Backend) {
    let c = TestCluster::start(backend, Options::default())
        .await
        .unwrap();
    let s = &c.servers[0];
    let admin = s.admin();
    zato_tests::deploy(&admin, "jobs.py", JOBS).await.unwrap();
    let out = s.dir.join("runs.jsonl");
    let extra = json!({"out": out}).to_string();

    // Definitions the scheduler could not plan are refused, saying why.
    let base = json!({"name": "every-2s", "job_type": "interval_based", "service": "jobs.record",
        "start_date": "2027-01-01T00:00:00", "extra": extra});
    let with = |extra: Value| {
        let mut v = base.clone();
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let err = refused(admin.invoke("zato.scheduler.job.create", &base).await);
    assert!(
        err.contains("at least one of `weeks`, `days`, `hours`, `minutes` or `seconds`"),
        "{err}"
    );
    let err = refused(
        admin
            .invoke(
                "zato.scheduler.job.create",
                &with(json!({"job_type": "cron_style", "cron_definition": "61 * * * *"})),
            )
            .await,
    );
    assert!(
        err.contains("the cron definition `61 * * * *` cannot be used"),
        "{err}"
    );
    let err = refused(
        admin
            .invoke(
                "zato.scheduler.job.create",
                &with(json!({"seconds": 2, "start_date": "soon"})),
            )
            .await,
    );
    assert!(
        err.contains("`start_date` `soon` is not a date and time"),
        "{err}"
    );
    let err = refused(
        admin
            .invoke(
                "zato.scheduler.job.create",
                &with(json!({"seconds": 2, "service": "no.such"})),
            )
            .await,
    );
    assert!(err.contains("No service named `no.such`"), "{err}");
    let err = refused(
        admin
            .invoke(
                "zato.scheduler.job.create",
                &with(json!({"seconds": 2, "job_typo": 1})),
            )
            .await,
    );
    assert!(err.contains("unknown field `job_typo`"), "{err}");

    // An interval job: listed as upstream lists it.
    let created = call(
        &admin,
        "zato.scheduler.job.create",
        with(json!({"seconds": 2, "repeats": 3})),
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    let job = call(
        &admin,
        "zato.scheduler.job.get-by-name",
        json!({"name": "every-2s"}),
    )
    .await;
    assert_eq!(job["seconds"], 2);
    assert_eq!(job["repeats"], 3);
    assert_eq!(job["service_name"], "jobs.record");
    assert_eq!(job["is_active"], true);
    let list = call(
        &admin,
        "zato.scheduler.job.get-list",
        json!({"service_name": "jobs.record"}),
    )
    .await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    // A same-named job again is refused, unless should_ignore_existing.
    let err = refused(
        admin
            .invoke("zato.scheduler.job.create", &with(json!({"seconds": 5})))
            .await,
    );
    assert!(err.contains("already exists"), "{err}");
    let again = call(
        &admin,
        "zato.scheduler.job.create",
        with(json!({"seconds": 5, "should_ignore_existing": true})),
    )
    .await;
    assert_eq!(again["id"], id);

    // A planned run fires once: asked twice, it runs once.
    let planned = "2026-01-01T00:00:02";
    let first = call(
        &admin,
        "zato.scheduler.job.fire",
        json!({"id": id, "planned": planned}),
    )
    .await;
    assert_eq!(first["fired"], true, "{first}");
    let second = call(
        &admin,
        "zato.scheduler.job.fire",
        json!({"id": id, "planned": planned}),
    )
    .await;
    assert_eq!(second["fired"], false, "{second}");
    let seen = runs(&out, 1).await;
    assert_eq!(
        seen[0],
        json!({"hooks": ["before_job", "after_job"], "channel": "scheduler", "channel_name": "every-2s",
            "payload": {"out": out}, "job_name": "every-2s", "job_type": "interval_based", "planned": planned,
            "early": false})
    );
    // Older than the records kept and than the job's latest run: taken as run (it may have
    // been pruned). The same run twice in one batch runs once.
    let older = call(
        &admin,
        "zato.scheduler.job.fire",
        json!({"id": id, "planned": "2026-01-01T00:00:01"}),
    )
    .await;
    assert_eq!(older["fired"], false, "{older}");
    let twice = json!({"id": id, "planned": "2026-01-01T00:00:04"});
    let batch = call(
        &admin,
        "zato.scheduler.job.fire",
        json!({"runs": [twice, twice]}),
    )
    .await;
    assert_eq!(
        (
            batch["runs"][0]["fired"].clone(),
            batch["runs"][1]["fired"].clone()
        ),
        (json!(true), json!(false)),
        "{batch}"
    );
    assert_eq!(runs(&out, 2).await[1]["planned"], "2026-01-01T00:00:04");
    // Pruning keeps each job's latest run, so a recovering scheduler knows where it stopped.
    let odb = zato_common::odb::Odb::connect(&c.db.cfg).await.unwrap();
    let cluster = odb.cluster_by_name(&c.name).await.unwrap().unwrap();
    let now = zato_common::time::utc_now_iso();
    assert_eq!(odb.job_prune_fires(&now).await.unwrap(), 1);
    assert_eq!(
        odb.job_last_runs(cluster.id)
            .await
            .unwrap()
            .get(&id)
            .map(String::as_str),
        Some("2026-01-01T00:00:04")
    );
    // A run is sent at most seconds ahead; one sent ahead starts at its time, not before.
    let err = refused(
        admin
            .invoke(
                "zato.scheduler.job.fire",
                &json!({"id": id, "planned": "2027-01-01T00:00:00"}),
            )
            .await,
    );
    assert!(err.contains("is more than 10 s ahead"), "{err}");
    let soon = zato_common::schedule::format(
        chrono::Utc::now().naive_utc() + chrono::TimeDelta::seconds(2),
    );
    let ahead = call(
        &admin,
        "zato.scheduler.job.fire",
        json!({"id": id, "planned": soon}),
    )
    .await;
    assert_eq!(ahead["fired"], true, "{ahead}");
    let seen = runs(&out, 3).await;
    assert_eq!(
        (seen[2]["planned"].as_str(), seen[2]["early"].as_bool()),
        (Some(soon.as_str()), Some(false))
    );

    // A burst of runs well beyond the interpreters' queue ([main] python_queue_size, 1000): each
    // recorded run waits its turn and runs, none is refused as "server busy".
    let burst_out = s.dir.join("burst.jsonl");
    let burst = call(
        &admin,
        "zato.scheduler.job.create",
        json!({"name": "burst",
        "job_type": "interval_based", "service": "jobs.record", "start_date": "2027-01-01T00:00:00",
        "hours": 1, "extra": json!({"out": burst_out}).to_string()}),
    )
    .await;
    let first = at("2026-01-02T00:00:00");
    let many: Vec<Value> = (0..5000)
        .map(|k| {
            let planned = zato_common::schedule::format(first + chrono::TimeDelta::seconds(k));
            json!({"id": burst["id"], "planned": planned})
        })
        .collect();
    let fired = call(&admin, "zato.scheduler.job.fire", json!({"runs": many})).await;
    let runs_fired = fired["runs"]
        .as_array()
        .map(|r| r.iter().filter(|r| r["fired"] == true).count());
    assert_eq!(runs_fired, Some(5000));
    let all = eventually(Duration::from_secs(60), || async {
        let n = std::fs::read_to_string(&burst_out)
            .unwrap_or_default()
            .lines()
            .count();
        (n == 5000).then_some(())
    })
    .await;
    let n = std::fs::read_to_string(&burst_out)
        .unwrap_or_default()
        .lines()
        .count();
    assert!(all.is_some(), "{n} of 5000 runs ran");
    call(
        &admin,
        "zato.scheduler.job.delete",
        json!({"id": burst["id"]}),
    )
    .await;

    // Execute-now runs it whatever its state; set-active-status and edit change it.
    call(
        &admin,
        "zato.scheduler.job.set-active-status",
        json!({"id": id, "is_active": false}),
    )
    .await;
    call(&admin, "zato.scheduler.job.execute", json!({"id": id})).await;
    assert_eq!(runs(&out, 4).await[3]["job_name"], "every-2s");
    let edited = call(
        &admin,
        "zato.scheduler.job.edit",
        json!({"id": id, "seconds": 0, "minutes": 1}),
    )
    .await;
    assert_eq!(edited["name"], "every-2s");
    let job = call(&admin, "zato.scheduler.job.get-by-id", json!({"id": id})).await;
    assert_eq!(
        (
            job["minutes"].clone(),
            job["seconds"].clone(),
            job["is_active"].clone()
        ),
        (json!(1), json!(null), json!(false))
    );

    // A cron job with seconds; `extra` as key=value lines becomes a dict.
    let cron = call(&admin, "zato.scheduler.job.create", json!({"name": "cron", "job_type": "cron_style",
        "service": "jobs.record", "start_date": "2027-01-01T00:00:00", "cron_definition": " */5 * * * * * ",
        "extra": format!("out={}", out.display())})).await;
    assert_eq!(cron["cron_definition"], "*/5 * * * * *");
    let fired = call(
        &admin,
        "zato.scheduler.job.fire",
        json!({"id": cron["id"], "planned": "2026-01-01 00:00:05"}),
    )
    .await;
    assert_eq!(fired["fired"], true);
    let seen = runs(&out, 5).await;
    assert_eq!(seen[4]["planned"], "2026-01-01T00:00:05");
    assert_eq!(seen[4]["payload"], json!({"out": out}));

    // A one-time job is gone after its run; self.schedule.onetime makes one from a service.
    let later = call(&admin, "jobs.later", json!({"out": out})).await;
    let job_id = later["job_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{later}"));
    let job = call(
        &admin,
        "zato.scheduler.job.get-by-name",
        json!({"name": "later-run"}),
    )
    .await;
    assert_eq!(
        (job["id"].as_i64(), job["job_type"].as_str()),
        (Some(job_id), Some("one_time"))
    );
    let fired = call(
        &admin,
        "zato.scheduler.job.fire",
        json!({"id": job_id, "planned": "2026-01-01T00:00:06"}),
    )
    .await;
    assert_eq!(fired["fired"], true);
    assert_eq!(runs(&out, 6).await[5]["job_type"], "one_time");
    let err = refused(
        admin
            .invoke("zato.scheduler.job.get-by-id", &json!({"id": job_id}))
            .await,
    );
    assert!(err.contains(&format!("No job with id {job_id}")), "{err}");

    // enmasse: exported as upstream's `scheduler` type; deleted, then imported back the same;
    // a job naming a service that is not deployed is a problem of the file.
    let exported = call(&admin, "zato.enmasse.export", json!({})).await;
    let jobs = exported["scheduler"].clone();
    assert_eq!(jobs.as_array().map(Vec::len), Some(2), "{exported}");
    assert_eq!(jobs[0]["name"], "cron");
    assert_eq!(jobs[0]["cron_definition"], "*/5 * * * * *");
    assert_eq!(jobs[1]["minutes"], 1);
    assert_eq!(jobs[1]["service"], "jobs.record");
    let cron_id = cron["id"].clone();
    call(&admin, "zato.scheduler.job.delete", json!({"id": cron_id})).await;
    let imported = call(
        &admin,
        "zato.enmasse.import",
        json!({"objects": {"scheduler": jobs}, "replace": true}),
    )
    .await;
    assert_eq!(imported["ok"], true, "{imported}");
    assert_eq!(imported["created"], json!(["scheduler `cron`"]));
    let again = call(&admin, "zato.enmasse.export", json!({})).await;
    assert_eq!(again["scheduler"], exported["scheduler"]);
    let mut bad = jobs[0].clone();
    bad["name"] = json!("orphan");
    bad["service"] = json!("not.deployed");
    let refused_file = call(
        &admin,
        "zato.enmasse.import",
        json!({"objects": {"scheduler": [bad]}}),
    )
    .await;
    assert_eq!(refused_file["ok"], false);
    assert!(
        refused_file["problems"]
            .to_string()
            .contains("no service named `not.deployed` is deployed"),
        "{refused_file}"
    );

    // Delete.
    call(&admin, "zato.scheduler.job.delete", json!({"id": id})).await;
    let list = call(&admin, "zato.scheduler.job.get-list", json!({})).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_on_sqlite() {
    jobs_on(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_on_postgresql() {
    jobs_on(Backend::Postgresql).await;
}

/// A scheduler directory for the test cluster with `conf_tail` added to its scheduler.conf,
/// started with `zato start`; its ping address.
async fn scheduler(c: &TestCluster, name: &str, conf_tail: &str) -> (std::path::PathBuf, String) {
    let dir = c.servers[0].dir.with_file_name(name);
    let port = zato_tests::free_port();
    let odb = zato_common::odb::Odb::connect(&c.db.cfg).await.unwrap();
    zato_common::setup::create_scheduler(
        &odb,
        &dir,
        &zato_common::setup::SchedulerSpec {
            cluster_name: &c.name,
            odb: &c.db.cfg,
            bind: &format!("127.0.0.1:{port}"),
            secret_key: &c.key,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    odb.close().await;
    let conf = dir.join("config/repo/scheduler.conf");
    let text = std::fs::read_to_string(&conf).unwrap_or_default();
    std::fs::write(&conf, text + conf_tail).unwrap();
    zato_tests::cli::ok(&["start", &dir.to_string_lossy()]);
    (dir, format!("http://127.0.0.1:{port}/zato/ping"))
}

async fn state(ping: &str) -> String {
    let r = reqwest::get(ping).await;
    match r {
        Ok(r) => r.json::<Value>().await.unwrap_or_default()["state"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        Err(_) => "down".into(),
    }
}

fn pid_of(dir: &Path) -> i32 {
    std::fs::read_to_string(dir.join("pidfile"))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pidfile in {}", dir.display()))
}

/// Runs of `job` recorded so far (planned times, in order).
fn planned_of(out: &Path, job: &str) -> Vec<String> {
    let text = std::fs::read_to_string(out).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["job_name"] == job)
        .map(|v| v["planned"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn at(t: &str) -> chrono::NaiveDateTime {
    zato_common::schedule::parse_start_date(t).unwrap_or_default()
}

/// Real schedulers: an interval job every second counted, a cron job with seconds, a one-time
/// job, set-active-status, the active scheduler killed (the standby takes over, nothing runs
/// twice) and restarted (it stands by), the only scheduler killed and restarted (the latest
/// missed run runs once).
async fn schedulers_on(backend: Backend) {
    let c = TestCluster::start(backend, Options::default())
        .await
        .unwrap();
    let s = &c.servers[0];
    let admin = s.admin();
    zato_tests::deploy(&admin, "jobs.py", JOBS).await.unwrap();
    let out = s.dir.join("runs.jsonl");
    let extra = json!({"out": out}).to_string();
    let boot = "\n[[startup_jobs]]\nname = \"boot\"\nservice = \"jobs.record\"\njob_type = \"interval_based\"\nhours = 1\n";
    let (a_dir, a_ping) = scheduler(&c, "scheduler-a", boot).await;
    let (b_dir, b_ping) = scheduler(&c, "scheduler-b", "").await;
    let a_active = eventually(Duration::from_secs(5), || async {
        (state(&a_ping).await == "active").then_some(())
    })
    .await;
    assert!(a_active.is_some(), "the first scheduler is not active");
    assert_eq!(state(&b_ping).await, "standby");
    // The active one says so in `zato info`; its startup job is in the cluster.
    let info = zato_tests::cli::ok(&["info", &a_dir.to_string_lossy(), "--format", "json"]);
    assert!(info.contains(r#""scheduler_state":"active""#), "{info}");
    let boot_job = eventually(Duration::from_secs(5), || async {
        admin
            .invoke("zato.scheduler.job.get-by-name", &json!({"name": "boot"}))
            .await
            .ok()
            .map(|r| r.data)
    })
    .await
    .unwrap_or_else(|| panic!("the startup job was not created"));
    assert_eq!(boot_job["hours"], 1);
    call(
        &admin,
        "zato.scheduler.job.delete",
        json!({"id": boot_job["id"]}),
    )
    .await;

    let now = chrono::Utc::now().naive_utc();
    let start = zato_common::schedule::format(now + chrono::TimeDelta::seconds(1));
    let once_at = zato_common::schedule::format(now + chrono::TimeDelta::seconds(3));
    let job = |name: &str, kind: &str, more: Value| {
        let mut v = json!({"name": name, "job_type": kind, "service": "jobs.record",
            "start_date": start, "extra": extra});
        for (k, x) in more.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let tick = call(
        &admin,
        "zato.scheduler.job.create",
        job("tick", "interval_based", json!({"seconds": 1})),
    )
    .await;
    call(
        &admin,
        "zato.scheduler.job.create",
        job(
            "even",
            "cron_style",
            json!({"cron_definition": "*/2 * * * * *"}),
        ),
    )
    .await;
    let once = call(
        &admin,
        "zato.scheduler.job.create",
        job("once", "one_time", json!({"start_date": once_at})),
    )
    .await;

    // Ten seconds of runs: one a second (10 ± 1), each planned second once.
    tokio::time::sleep(Duration::from_millis(10_500)).await;
    let ticks = planned_of(&out, "tick");
    assert!((9..=11).contains(&ticks.len()), "{ticks:?}");
    for pair in ticks.windows(2) {
        assert_eq!((at(&pair[1]) - at(&pair[0])).num_seconds(), 1, "{ticks:?}");
    }
    let evens = planned_of(&out, "even");
    assert!(
        evens.len() >= 2 && evens.iter().all(|p| at(p).second().is_multiple_of(2)),
        "{evens:?}"
    );
    assert_eq!(planned_of(&out, "once"), vec![once_at.clone()]);
    let err = refused(
        admin
            .invoke("zato.scheduler.job.get-by-id", &json!({"id": once["id"]}))
            .await,
    );
    assert!(err.contains("No job with id"), "{err}");

    // The active scheduler killed: the standby takes over within its lease (3 s), runs the
    // latest missed run once and goes on; nothing runs twice.
    // SAFETY: kill(2) on the pid of the scheduler this test started.
    unsafe { libc::kill(pid_of(&a_dir), libc::SIGKILL) };
    let took_over = eventually(Duration::from_secs(6), || async {
        (state(&b_ping).await == "active").then_some(())
    })
    .await;
    assert!(took_over.is_some(), "the standby did not take over");
    let before = planned_of(&out, "tick").len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let ticks = planned_of(&out, "tick");
    assert!(
        ticks.len() >= before + 2,
        "no runs after the takeover: {ticks:?}"
    );
    // The first scheduler back: it stands by.
    zato_tests::cli::ok(&["start", &a_dir.to_string_lossy()]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(state(&a_ping).await, "standby");

    // Inactive: no more runs (one sent ahead before the change may still start, within the
    // scheduler's poll and its time ahead: 0.7 s); active again: runs resume.
    call(
        &admin,
        "zato.scheduler.job.set-active-status",
        json!({"id": tick["id"], "is_active": false}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let paused = planned_of(&out, "tick").len();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(
        planned_of(&out, "tick").len(),
        paused,
        "runs while inactive"
    );
    call(
        &admin,
        "zato.scheduler.job.set-active-status",
        json!({"id": tick["id"], "is_active": true}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert!(
        planned_of(&out, "tick").len() > paused,
        "no runs once active again"
    );

    // The only scheduler killed mid-run and started again: once the dead one's lease lapses
    // it runs the latest run missed meanwhile, once, and goes on.
    zato_tests::cli::ok(&["stop", &a_dir.to_string_lossy()]);
    let killed_at = chrono::Utc::now().naive_utc();
    // SAFETY: kill(2) on the pid of the scheduler this test started.
    unsafe { libc::kill(pid_of(&b_dir), libc::SIGKILL) };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    zato_tests::cli::ok(&["start", &b_dir.to_string_lossy()]);
    let back = eventually(Duration::from_secs(8), || async {
        (state(&b_ping).await == "active").then_some(())
    })
    .await;
    assert!(
        back.is_some(),
        "the restarted scheduler did not become active"
    );
    let active_at = chrono::Utc::now().naive_utc();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let ticks = planned_of(&out, "tick");
    let killed = killed_at.with_nanosecond(0).unwrap_or(killed_at);
    let missed: Vec<_> = ticks
        .iter()
        .filter(|p| at(p) > killed && at(p) < active_at)
        .collect();
    assert!(
        !missed.is_empty(),
        "no missed run after the restart: {ticks:?} (killed {killed_at}, active {active_at})"
    );
    assert!(
        ticks.iter().any(|p| at(p) > active_at),
        "no runs after the restart: {ticks:?}"
    );

    for job in ["tick", "even", "once"] {
        let planned = planned_of(&out, job);
        let mut unique = planned.clone();
        unique.dedup();
        assert_eq!(
            unique.len(),
            planned.len(),
            "{job} ran twice for a planned time: {planned:?}"
        );
    }
    zato_tests::cli::ok(&["stop", &b_dir.to_string_lossy()]);
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn schedulers_on_sqlite() {
    schedulers_on(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn schedulers_on_postgresql() {
    schedulers_on(Backend::Postgresql).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_on_mariadb() {
    jobs_on(Backend::Mysql).await;
}
