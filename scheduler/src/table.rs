//! The active scheduler's jobs with their next planned runs.
use chrono::{NaiveDateTime, TimeDelta};
use zato_common::odb::jobs::Job;
use zato_common::schedule::Plan;

/// One job as planned.
pub struct Entry {
    pub job: Job,
    pub plan: Plan,
    /// The next run to fire; None when the job has no more runs.
    pub next: Option<NaiveDateTime>,
}

#[derive(Default)]
pub struct Table {
    pub entries: Vec<Entry>,
}

impl Table {
    /// The active jobs of `jobs`, planned from `now`. A job whose definition and state did not
    /// change keeps its next run; a new or changed one starts from `now`. Definitions that
    /// cannot be planned (written around the admin API) are logged and left out.
    pub fn rebuild(&mut self, jobs: Vec<Job>, now: NaiveDateTime) -> Vec<Job> {
        let mut old: std::collections::HashMap<i64, Entry> = std::mem::take(&mut self.entries)
            .into_iter()
            .map(|e| (e.job.id, e))
            .collect();
        let mut new_jobs = Vec::new();
        for job in jobs.into_iter().filter(|j| j.is_active) {
            if let Some(e) = old.remove(&job.id)
                && e.job == job
            {
                self.entries.push(e);
                continue;
            }
            let plan = match Plan::new(
                &job.job_type,
                &job.start_date,
                &job.interval,
                job.cron_definition.as_deref(),
            ) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!("job `{}` cannot be planned and is left out: {e}", job.name);
                    continue;
                }
            };
            let next = plan.next_from(now);
            new_jobs.push(job.clone());
            self.entries.push(Entry { job, plan, next });
        }
        new_jobs
    }

    /// The earliest next run of any job.
    pub fn earliest(&self) -> Option<NaiveDateTime> {
        self.entries.iter().filter_map(|e| e.next).min()
    }

    /// The runs due at `now` (job id, job name, planned time), each job moved on to its
    /// following run.
    pub fn take_due(&mut self, now: NaiveDateTime) -> Vec<(i64, String, NaiveDateTime)> {
        let mut due = Vec::new();
        for e in &mut self.entries {
            while let Some(at) = e.next.filter(|at| *at <= now) {
                // Runs behind by more than one interval (a stalled process) collapse into the
                // latest: the others are as missed as runs while no scheduler ran.
                let following = at
                    .checked_add_signed(TimeDelta::seconds(1))
                    .and_then(|t| e.plan.next_from(t));
                if following.is_none_or(|f| f > now) {
                    due.push((e.job.id, e.job.name.clone(), at));
                }
                e.next = following;
            }
        }
        due
    }
}
