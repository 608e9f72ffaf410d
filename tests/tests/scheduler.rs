//! Scheduler jobs through the admin API (`zato.scheduler.job.*`): definitions checked as the
//! scheduler plans them, each planned run recorded once (`fire`), what the service sees
//! (channel `scheduler`, `self.request.scheduler`, before/after_job hooks), execute-now,
//! one-time jobs gone after their run and `self.schedule.onetime`.
use std::path::Path;
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
    let planned = "2027-01-01T00:00:02";
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
            "payload": {"out": out}, "job_name": "every-2s", "job_type": "interval_based", "planned": planned})
    );

    // Execute-now runs it whatever its state; set-active-status and edit change it.
    call(
        &admin,
        "zato.scheduler.job.set-active-status",
        json!({"id": id, "is_active": false}),
    )
    .await;
    call(&admin, "zato.scheduler.job.execute", json!({"id": id})).await;
    assert_eq!(runs(&out, 2).await[1]["job_name"], "every-2s");
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
        json!({"id": cron["id"], "planned": "2027-01-01 00:00:05"}),
    )
    .await;
    assert_eq!(fired["fired"], true);
    let seen = runs(&out, 3).await;
    assert_eq!(seen[2]["planned"], "2027-01-01T00:00:05");
    assert_eq!(seen[2]["payload"], json!({"out": out}));

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
        json!({"id": job_id, "planned": job["start_date"]}),
    )
    .await;
    assert_eq!(fired["fired"], true);
    assert_eq!(runs(&out, 4).await[3]["job_type"], "one_time");
    let err = refused(
        admin
            .invoke("zato.scheduler.job.get-by-id", &json!({"id": job_id}))
            .await,
    );
    assert!(err.contains(&format!("No job with id {job_id}")), "{err}");

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
