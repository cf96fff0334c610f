//! The figures: one pass over the window's runs, stages, ratings and NPS answers.

use std::collections::{BTreeMap, HashMap};

use lever_store::{Store, StoreError};
use serde::Serialize;

use crate::baseline::human_duration;
use crate::interpretation::{Finding, interpret};
use crate::stats::{median, share};

const WEEK_MS: i64 = 7 * 86_400_000;

/// What the figures are computed over.
pub struct Inputs<'a> {
    /// Window start (ms, inclusive).
    pub from: i64,
    /// Window end (ms, exclusive).
    pub to: i64,
    /// Only this template's runs.
    pub template: Option<&'a str>,
    /// Only runs requested by these users (a team's members).
    pub requesters: Option<&'a [String]>,
    /// Every user in the identity config, with their team.
    pub users: &'a HashMap<String, Option<String>>,
    /// The templates published now.
    pub published: &'a [PublishedTemplate],
}

/// A published template, with the baseline it declares.
#[derive(Debug, Clone)]
pub struct PublishedTemplate {
    /// Its name.
    pub name: String,
    /// Its title (or name).
    pub title: String,
    /// `lever.dev/baseline`, parsed (ms) and as written.
    pub baseline: Option<(i64, String)>,
}

/// Everything the insights page and API show.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Insights {
    /// The window (ms).
    pub from: i64,
    /// The window's end (ms).
    pub to: i64,
    /// Who uses Lever.
    pub adoption: Adoption,
    /// How much time it saves.
    pub efficiency: Efficiency,
    /// Whether it is reliable.
    pub quality: Quality,
    /// Whether people like it.
    pub satisfaction: Satisfaction,
    /// What Lever created and still holds, now (not only in the window): live, orphaned by a
    /// failed rollback, drifted away from its provider (`docs/resources.md`).
    pub resources: ResourceFigures,
    /// The brief's combinations, evaluated.
    pub interpretation: Vec<Finding>,
}

/// The inventory in figures.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ResourceFigures {
    /// Resources in use.
    pub live: i64,
    /// Their monthly cost, in US cents.
    pub live_monthly_cost_cents: i64,
    /// Left behind by a failed rollback: they exist, nobody uses them.
    pub orphaned: i64,
    /// What the orphaned cost a month, in US cents.
    pub orphaned_monthly_cost_cents: i64,
    /// Gone from their provider without Lever removing them.
    pub drifted: i64,
}

/// A name and a count.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Count {
    /// Template, team or week.
    pub name: String,
    /// Runs.
    pub runs: usize,
}

/// Adoption figures.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Adoption {
    /// Runs submitted in the window.
    pub runs: usize,
    /// Runs per week (by the week's first day, ms).
    #[schema(value_type = Vec<Vec<i64>>)]
    pub per_week: Vec<(i64, usize)>,
    /// Distinct requesters.
    pub requesters: usize,
    /// Users in the identity config.
    pub users: usize,
    /// `requesters / users`.
    pub share_of_users: Option<f64>,
    /// Published templates run at least once.
    pub templates_used: usize,
    /// Published templates.
    pub templates_published: usize,
    /// Runs per template (most first).
    pub per_template: Vec<Count>,
    /// Runs per requester's team (most first).
    pub per_team: Vec<Count>,
    /// Runs in the window's first and second half.
    #[schema(value_type = Vec<i64>)]
    pub halves: (usize, usize),
}

/// One template's time to provision.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Provision {
    /// The template.
    pub template: String,
    /// Its title.
    pub title: String,
    /// Succeeded runs.
    pub runs: usize,
    /// Submit to succeeded, median (ms).
    pub p50_ms: i64,
    /// … 90th percentile (ms).
    pub p90_ms: i64,
    /// The declared baseline, as written, and in ms.
    pub baseline: Option<String>,
    /// The baseline (ms).
    pub baseline_ms: Option<i64>,
    /// `1 - p50 / baseline`, in percent.
    pub reduction_percent: Option<f64>,
    /// The brief's headline: "PostgreSQL database: 3d → 2 minutes (99.9 % less)".
    pub headline: Option<String>,
}

/// One stage's approval wait.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Wait {
    /// The policy version that routed it.
    pub policy_version: String,
    /// The stage.
    pub stage: String,
    /// Decided stages.
    pub decided: usize,
    /// Opening to decision, median (ms).
    pub p50_ms: Option<i64>,
    /// … 90th percentile (ms).
    pub p90_ms: Option<i64>,
    /// Decided after their SLA, or still open past it.
    pub sla_breaches: usize,
}

/// Efficiency figures.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Efficiency {
    /// Per template with succeeded runs.
    pub per_template: Vec<Provision>,
    /// Median reduction over the templates that declare a baseline (percent).
    pub reduction_percent: Option<f64>,
    /// The same over the window's first and second half.
    #[schema(value_type = Vec<Option<f64>>)]
    pub reduction_halves: (Option<f64>, Option<f64>),
    /// Per policy version and stage.
    pub approval_waits: Vec<Wait>,
    /// Routed runs approved automatically.
    pub auto_approved_share: Option<f64>,
    /// The brief's target for that share.
    pub auto_approved_target: f64,
}

/// One template's success rate.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Success {
    /// The template.
    pub template: String,
    /// Finished runs.
    pub finished: usize,
    /// Succeeded runs.
    pub succeeded: usize,
    /// `succeeded / finished`.
    pub success_rate: f64,
    /// Under the brief's 95 %.
    pub below_target: bool,
}

/// A run whose rollback failed, and what it left.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LeftBehind {
    /// The template.
    pub template: String,
    /// The steps whose effects remain.
    pub steps: Vec<String>,
}

/// A failure kind and how often it happened.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FailureKind {
    /// `plugin-fatal`, `deadline-passed`…
    pub kind: String,
    /// How often.
    pub count: usize,
    /// The latest message, which says what to fix.
    pub remediation: String,
}

/// Quality figures.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Quality {
    /// Finished runs.
    pub finished: usize,
    /// Succeeded / finished.
    pub success_rate: Option<f64>,
    /// The brief's target.
    pub success_target: f64,
    /// Per template.
    pub per_template: Vec<Success>,
    /// Rolled back (cleanly or not) / finished.
    pub rollback_rate: Option<f64>,
    /// Rollbacks that failed.
    pub rollback_failed: Vec<LeftBehind>,
    /// The most common failures.
    pub failure_kinds: Vec<FailureKind>,
}

/// A template's ratings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rating {
    /// The template.
    pub template: String,
    /// Ratings.
    pub ratings: usize,
    /// Mean, 1-5.
    pub mean: f64,
}

/// A rating's comment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Comment {
    /// The template.
    pub template: String,
    /// 1-5.
    pub score: i64,
    /// The text.
    pub comment: String,
}

/// Satisfaction figures.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Satisfaction {
    /// Run ratings.
    pub ratings: usize,
    /// Their mean, 1-5.
    pub mean_rating: Option<f64>,
    /// Per template.
    pub per_template: Vec<Rating>,
    /// The latest comments.
    pub comments: Vec<Comment>,
    /// NPS answers (each user's latest).
    pub nps_responses: usize,
    /// % promoters (9-10) − % detractors (0-6).
    pub nps: Option<f64>,
    /// Promoters, passives, detractors.
    pub nps_split: (usize, usize, usize),
}

/// Computes the insights of `inputs` from `store`.
pub async fn compute(store: &Store, inputs: &Inputs<'_>) -> Result<Insights, StoreError> {
    let scope = lever_store::RunScope {
        from: inputs.from,
        to: inputs.to,
        template: inputs.template,
        requesters: inputs.requesters,
    };
    // Four independent reads, each on its own connection (and, on SQLite, its own thread).
    let (runs, stage_waits, ratings, scores) = futures::try_join!(
        store.run_aggregates(&scope, WEEK_MS),
        store.stage_waits(inputs.from, inputs.to),
        store.rating_summary(inputs.from, inputs.to, inputs.template, 10),
        store.nps_scores(inputs.from, inputs.to),
    )?;
    let titles: HashMap<&str, &PublishedTemplate> = inputs
        .published
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();

    // Adoption.
    let mut per_template: BTreeMap<String, usize> = BTreeMap::new();
    for (label, _, count) in &runs.by_label_status {
        *per_template.entry(label.clone()).or_default() += *count as usize;
    }
    let mut per_team: BTreeMap<String, usize> = BTreeMap::new();
    for (requester, count) in &runs.by_requester {
        let team = inputs
            .users
            .get(requester)
            .cloned()
            .flatten()
            .unwrap_or_else(|| "no team".into());
        *per_team.entry(team).or_default() += *count as usize;
    }
    let sorted = |m: BTreeMap<String, usize>| {
        let mut v: Vec<Count> = m
            .into_iter()
            .map(|(name, runs)| Count { name, runs })
            .collect();
        v.sort_by(|a, b| b.runs.cmp(&a.runs).then(a.name.cmp(&b.name)));
        v
    };
    let templates_used = per_template
        .keys()
        .filter(|t| titles.contains_key(t.as_str()))
        .count();
    let users = inputs.users.len();
    let total: usize = per_template.values().sum();
    let adoption = Adoption {
        runs: total,
        per_week: runs
            .by_week
            .iter()
            .map(|(week, n)| (inputs.from + week * WEEK_MS, *n as usize))
            .collect(),
        requesters: runs.by_requester.len(),
        users,
        share_of_users: share(runs.by_requester.len(), users),
        templates_used,
        templates_published: inputs.published.len(),
        per_template: sorted(per_template),
        per_team: sorted(per_team),
        halves: (runs.halves.0 as usize, runs.halves.1 as usize),
    };

    // Efficiency: time to provision against the baseline.
    let mut provisions = Vec::new();
    let (mut reductions, mut early, mut late) = (Vec::new(), Vec::new(), Vec::new());
    for stats in runs.durations.iter().filter(|d| d.early.is_none()) {
        let published = titles.get(stats.label.as_str());
        let baseline = published.and_then(|t| t.baseline.clone());
        let reduction = baseline
            .as_ref()
            .map(|(ms, _)| reduction(stats.p50_ms, *ms));
        if let (Some(r), Some((ms, _))) = (reduction, &baseline) {
            reductions.push(r);
            for half in runs
                .durations
                .iter()
                .filter(|d| d.label == stats.label && d.early.is_some())
            {
                let target = if half.early == Some(true) {
                    &mut early
                } else {
                    &mut late
                };
                target.push(self::reduction(half.p50_ms, *ms));
            }
        }
        let title = published.map_or_else(|| stats.label.clone(), |t| t.title.clone());
        provisions.push(Provision {
            // Truncated, never rounded up: 99.99 % shows as 99.9 %, not as 100 %.
            headline: match (&baseline, reduction) {
                (Some((_, text)), Some(r)) => Some(format!(
                    "{title}: {text} → {} ({:.1} % less)",
                    human_duration(stats.p50_ms),
                    (r * 10.0).floor() / 10.0
                )),
                _ => None,
            },
            template: stats.label.clone(),
            title,
            runs: stats.runs as usize,
            p50_ms: stats.p50_ms,
            p90_ms: stats.p90_ms,
            baseline_ms: baseline.as_ref().map(|(ms, _)| *ms),
            baseline: baseline.map(|(_, text)| text),
            reduction_percent: reduction,
        });
    }
    provisions.sort_by(|a, b| a.template.cmp(&b.template));
    let approval_waits = stage_waits
        .into_iter()
        .map(|w| Wait {
            policy_version: w.policy_version,
            stage: w.name,
            decided: w.decided as usize,
            p50_ms: w.p50_ms,
            p90_ms: w.p90_ms,
            sla_breaches: w.sla_breaches as usize,
        })
        .collect();
    let efficiency = Efficiency {
        per_template: provisions,
        reduction_percent: median(&mut reductions),
        reduction_halves: (median(&mut early), median(&mut late)),
        approval_waits,
        auto_approved_share: share(runs.routed.1 as usize, runs.routed.0 as usize),
        auto_approved_target: 0.75,
    };

    // Quality.
    let mut per: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let (mut finished, mut succeeded, mut rolled) = (0, 0, 0);
    for (label, status, count) in &runs.by_label_status {
        let count = *count as usize;
        if !matches!(
            status.as_str(),
            "succeeded" | "failed" | "rolled-back" | "rollback-failed"
        ) {
            continue;
        }
        let entry = per.entry(label.clone()).or_default();
        entry.0 += count;
        finished += count;
        match status.as_str() {
            "succeeded" => {
                entry.1 += count;
                succeeded += count;
            }
            "rolled-back" | "rollback-failed" => rolled += count,
            _ => {}
        }
    }
    let rollback_failed = runs
        .rollback_failed
        .iter()
        .map(|f| LeftBehind {
            template: f.label.clone(),
            steps: f
                .error
                .as_ref()
                .and_then(|e| e["left_behind"].as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    let mut failure_kinds: Vec<FailureKind> = runs
        .failure_kinds
        .iter()
        .map(|k| FailureKind {
            kind: k.kind.clone(),
            count: k.runs as usize,
            remediation: k.last_message.clone(),
        })
        .collect();
    failure_kinds.sort_by(|a, b| b.count.cmp(&a.count).then(a.kind.cmp(&b.kind)));
    failure_kinds.truncate(5);
    let quality = Quality {
        finished,
        success_rate: share(succeeded, finished),
        success_target: 0.95,
        per_template: per
            .into_iter()
            .map(|(template, (finished, succeeded))| {
                let success_rate = succeeded as f64 / finished as f64;
                Success {
                    template,
                    finished,
                    succeeded,
                    success_rate,
                    below_target: success_rate < 0.95,
                }
            })
            .collect(),
        rollback_rate: share(rolled, finished),
        rollback_failed,
        failure_kinds,
    };

    // Satisfaction.
    let (count, sum) = ratings
        .per_template
        .iter()
        .fold((0, 0), |(c, s), (_, n, total)| (c + n, s + total));
    let promoters = scores.iter().filter(|s| **s >= 9).count();
    let detractors = scores.iter().filter(|s| **s <= 6).count();
    let satisfaction = Satisfaction {
        ratings: count as usize,
        mean_rating: (count > 0).then(|| sum as f64 / count as f64),
        per_template: ratings
            .per_template
            .iter()
            .map(|(template, n, total)| Rating {
                template: template.clone(),
                ratings: *n as usize,
                mean: *total as f64 / *n as f64,
            })
            .collect(),
        comments: ratings
            .latest_comments
            .into_iter()
            .map(|r| Comment {
                template: r.template,
                score: r.score,
                comment: r.comment,
            })
            .collect(),
        nps_responses: scores.len(),
        nps: (!scores.is_empty())
            .then(|| (promoters as f64 - detractors as f64) * 100.0 / scores.len() as f64),
        nps_split: (promoters, scores.len() - promoters - detractors, detractors),
    };

    let mut resources = ResourceFigures::default();
    for (state, count, cents) in store.resource_totals().await? {
        match state.as_str() {
            "live" => (resources.live, resources.live_monthly_cost_cents) = (count, cents),
            "orphaned" => {
                (resources.orphaned, resources.orphaned_monthly_cost_cents) = (count, cents)
            }
            "drifted" => resources.drifted = count,
            _ => {}
        }
    }
    let mut insights = Insights {
        from: inputs.from,
        to: inputs.to,
        adoption,
        efficiency,
        quality,
        satisfaction,
        resources,
        interpretation: Vec::new(),
    };
    insights.interpretation = interpret(&insights);
    Ok(insights)
}

/// How much less time `took` is than `baseline`, in percent (negative when slower).
fn reduction(took: i64, baseline: i64) -> f64 {
    (1.0 - took as f64 / baseline as f64) * 100.0
}
