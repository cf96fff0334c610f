//! The product brief's "interpreting metric combinations", evaluated on the figures: each
//! finding is a sentence with the numbers behind it and what to do.

use serde::Serialize;

use crate::figures::Insights;

/// Adoption is high from half of the configured users, low under 30 %.
const HIGH_ADOPTION: f64 = 0.5;
const LOW_ADOPTION: f64 = 0.3;
/// The brief: "not 20 % faster, but 95 % faster". High from 90 % less time, low under 50 %.
const HIGH_EFFICIENCY: f64 = 90.0;
const LOW_EFFICIENCY: f64 = 50.0;
/// Satisfaction is low under an NPS of 0, or (without NPS answers) a mean rating under 3.5.
const LOW_NPS: f64 = 0.0;
const LOW_RATING: f64 = 3.5;
/// Adoption declines when the second half of the window has under 75 % of the first's runs
/// (from at least 4); efficiency is stable when its two halves differ by under 10 points.
const DECLINE: f64 = 0.75;
const STABLE_POINTS: f64 = 10.0;

/// One interpretation.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Finding {
    /// `high-efficiency-low-adoption`, `high-adoption-low-efficiency`,
    /// `high-adoption-high-efficiency-low-satisfaction`, `declining-adoption-stable-efficiency`,
    /// `success-below-target`, `auto-approval-below-target`, `orphaned-resources`, `delivering`,
    /// `no-baseline`.
    pub kind: &'static str,
    /// What it means, with the numbers.
    pub sentence: String,
}

fn pct(x: f64) -> String {
    format!("{:.0} %", x * 100.0)
}

/// The findings the figures support, most important first.
pub fn interpret(i: &Insights) -> Vec<Finding> {
    let mut findings = Vec::new();
    let adoption = i.adoption.share_of_users;
    let efficiency = i.efficiency.reduction_percent;
    let satisfaction_low = match (i.satisfaction.nps, i.satisfaction.mean_rating) {
        (Some(nps), _) => Some((nps < LOW_NPS, format!("NPS {nps:.0}"))),
        (None, Some(mean)) => Some((mean < LOW_RATING, format!("mean rating {mean:.1} of 5"))),
        (None, None) => None,
    };
    let who = format!(
        "{} of {} developers",
        i.adoption.requesters, i.adoption.users
    );

    // Truncated for the sentences: 99.99 % faster reads "99 %", never "100 %".
    let efficiency = efficiency.map(|e| if e > 0.0 { e.floor() } else { e.ceil() });
    if let (Some(a), Some(e)) = (adoption, efficiency) {
        if e >= HIGH_EFFICIENCY && a < LOW_ADOPTION {
            findings.push(Finding {
                kind: "high-efficiency-low-adoption",
                sentence: format!(
                    "Provisioning is {e:.0} % faster than before Lever, but only {} ({who}) used it in this window: the platform works but developers don't trust it or can't find it. Improve discoverability, add actions for common tasks, or ask why they prefer the old way.",
                    pct(a)
                ),
            });
        }
        if a >= HIGH_ADOPTION && e < LOW_EFFICIENCY {
            let manual = i
                .efficiency
                .auto_approved_share
                .map(|s| format!(", and {} of runs waited for an approver", pct(1.0 - s)))
                .unwrap_or_default();
            findings.push(Finding {
                kind: "high-adoption-low-efficiency",
                sentence: format!(
                    "{} of developers ({who}) use Lever, but provisioning is only {e:.0} % faster than before{manual}: actions need optimization, approval policies may be too strict, or workflows have bottlenecks.",
                    pct(a)
                ),
            });
        }
        if a >= HIGH_ADOPTION
            && e >= HIGH_EFFICIENCY
            && let Some((true, measure)) = &satisfaction_low
        {
            findings.push(Finding {
                kind: "high-adoption-high-efficiency-low-satisfaction",
                sentence: format!(
                    "Lever is used by {} of developers and is {e:.0} % faster, but satisfaction is low ({measure}): it works and is fast, yet developers don't like using it. Look for UX problems, confusing errors or missing features they expected.",
                    pct(a)
                ),
            });
        }
    }

    let (earlier, later) = i.adoption.halves;
    if earlier >= 4 && (later as f64) < earlier as f64 * DECLINE {
        let drop = (1.0 - later as f64 / earlier as f64) * 100.0;
        let stable = match i.efficiency.reduction_halves {
            (Some(e1), Some(e2)) if (e1 - e2).abs() < STABLE_POINTS => Some(format!(
                " while efficiency held ({e1:.0} % → {e2:.0} % faster)"
            )),
            _ => None,
        };
        findings.push(Finding {
            kind: if stable.is_some() {
                "declining-adoption-stable-efficiency"
            } else {
                "declining-adoption"
            },
            sentence: format!(
                "Runs fell from {earlier} to {later} ({drop:.0} % fewer) between the first and the second half of the window{}: something changed — a competing tool, an action that broke, or something unpopular the platform team shipped. Investigate quickly.",
                stable.unwrap_or_default()
            ),
        });
    }

    for t in i.quality.per_template.iter().filter(|t| t.below_target) {
        findings.push(Finding {
            kind: "success-below-target",
            sentence: format!(
                "`{}` succeeded in {} of its runs ({} of {}), under the 95 % target: developers stop trusting actions that fail.{}",
                t.template,
                pct(t.success_rate),
                t.succeeded,
                t.finished,
                i.quality
                    .failure_kinds
                    .first()
                    .map(|k| format!(" The most common failure is `{}`: {}", k.kind, k.remediation))
                    .unwrap_or_default()
            ),
        });
    }

    if let Some(s) = i.efficiency.auto_approved_share
        && s < i.efficiency.auto_approved_target
    {
        findings.push(Finding {
            kind: "auto-approval-below-target",
            sentence: format!(
                "{} of runs were approved automatically; the target is {}: review which policy rules send low-risk requests to people.",
                pct(s),
                pct(i.efficiency.auto_approved_target)
            ),
        });
    }

    if efficiency.is_none() && !i.efficiency.per_template.is_empty() {
        findings.push(Finding {
            kind: "no-baseline",
            sentence: "No template that ran declares how long the task took before Lever: set `metadata.annotations[\"lever.dev/baseline\"]` (e.g. `3-5d`) so efficiency can be measured.".into(),
        });
    }

    // The product brief's warning: failed workflows leave orphaned resources that accumulate.
    if i.resources.orphaned > 0 {
        findings.push(Finding {
            kind: "orphaned-resources",
            sentence: format!(
                "{} resource{} left behind by failed rollbacks cost ${}.{:02}/month and nobody uses {}: the platform team cleans them up (Resources, state orphaned).",
                i.resources.orphaned,
                if i.resources.orphaned == 1 { " was" } else { "s were" },
                i.resources.orphaned_monthly_cost_cents / 100,
                i.resources.orphaned_monthly_cost_cents % 100,
                if i.resources.orphaned == 1 { "it" } else { "them" },
            ),
        });
    }

    let problems = findings.iter().any(|f| f.kind != "no-baseline");
    if !problems
        && let (Some(a), Some(e)) = (adoption, efficiency)
        && a >= HIGH_ADOPTION
        && e >= HIGH_EFFICIENCY
    {
        findings.push(Finding {
            kind: "delivering",
            sentence: format!(
                "{} of developers use Lever, provisioning is {e:.0} % faster than before{}: the platform delivers.",
                pct(a),
                satisfaction_low
                    .map(|(_, m)| format!(" and satisfaction holds ({m})"))
                    .unwrap_or_default()
            ),
        });
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::*;

    /// Figures with `requesters` of 10 users, a median reduction, halves of runs and an NPS.
    fn figures(
        requesters: usize,
        reduction: Option<f64>,
        halves: (usize, usize),
        nps: Option<f64>,
    ) -> Insights {
        Insights {
            from: 0,
            to: 1,
            adoption: Adoption {
                runs: halves.0 + halves.1,
                per_week: Vec::new(),
                requesters,
                users: 10,
                share_of_users: Some(requesters as f64 / 10.0),
                templates_used: 1,
                templates_published: 1,
                per_template: Vec::new(),
                per_team: Vec::new(),
                halves,
            },
            efficiency: Efficiency {
                per_template: Vec::new(),
                reduction_percent: reduction,
                reduction_halves: (reduction, reduction),
                approval_waits: Vec::new(),
                auto_approved_share: Some(0.8),
                auto_approved_target: 0.75,
            },
            quality: Quality {
                finished: 0,
                success_rate: None,
                success_target: 0.95,
                per_template: Vec::new(),
                rollback_rate: None,
                rollback_failed: Vec::new(),
                failure_kinds: Vec::new(),
            },
            satisfaction: Satisfaction {
                ratings: 0,
                mean_rating: None,
                per_template: Vec::new(),
                comments: Vec::new(),
                nps_responses: 0,
                nps,
                nps_split: (0, 0, 0),
            },
            resources: ResourceFigures::default(),
            interpretation: Vec::new(),
        }
    }

    #[test]
    fn orphaned_resources_are_named_with_their_cost() {
        let mut i = figures(8, Some(99.0), (5, 5), Some(60.0));
        assert!(!kinds(&i).contains(&"orphaned-resources"));
        i.resources.orphaned = 2;
        i.resources.orphaned_monthly_cost_cents = 20_050;
        let findings = interpret(&i);
        let orphans = findings
            .iter()
            .find(|f| f.kind == "orphaned-resources")
            .expect("a finding");
        assert!(
            orphans.sentence.contains("2 resources were left behind")
                && orphans.sentence.contains("$200.50/month"),
            "{}",
            orphans.sentence
        );
        assert!(!kinds(&i).contains(&"delivering"), "orphans are a problem");
    }

    fn kinds(i: &Insights) -> Vec<&'static str> {
        interpret(i).into_iter().map(|f| f.kind).collect()
    }

    #[test]
    fn high_efficiency_low_adoption_says_developers_do_not_find_it() {
        let findings = interpret(&figures(2, Some(99.9), (5, 5), Some(40.0)));
        assert_eq!(findings[0].kind, "high-efficiency-low-adoption");
        assert!(
            findings[0].sentence.contains("100 % faster") || findings[0].sentence.contains("99")
        );
        assert!(
            findings[0]
                .sentence
                .contains("only 20 % (2 of 10 developers)"),
            "{}",
            findings[0].sentence
        );
        assert!(findings[0].sentence.contains("discoverability"));
    }

    #[test]
    fn high_adoption_low_efficiency_points_at_slow_actions_and_strict_policies() {
        let findings = interpret(&figures(8, Some(30.0), (5, 5), Some(40.0)));
        assert_eq!(
            kinds(&figures(8, Some(30.0), (5, 5), Some(40.0))),
            ["high-adoption-low-efficiency"]
        );
        assert!(findings[0].sentence.contains("only 30 % faster"));
        assert!(
            findings[0]
                .sentence
                .contains("20 % of runs waited for an approver")
        );
    }

    #[test]
    fn high_adoption_high_efficiency_low_satisfaction_points_at_ux() {
        let findings = interpret(&figures(8, Some(99.0), (5, 5), Some(-20.0)));
        assert_eq!(
            findings[0].kind,
            "high-adoption-high-efficiency-low-satisfaction"
        );
        assert!(findings[0].sentence.contains("NPS -20"));
        assert!(!kinds(&figures(8, Some(99.0), (5, 5), Some(-20.0))).contains(&"delivering"));
    }

    #[test]
    fn declining_adoption_with_stable_efficiency_says_investigate() {
        let findings = interpret(&figures(6, Some(95.0), (20, 6), None));
        let decline = findings
            .iter()
            .find(|f| f.kind == "declining-adoption-stable-efficiency")
            .expect("a decline finding");
        assert!(
            decline.sentence.contains("from 20 to 6 (70 % fewer)"),
            "{}",
            decline.sentence
        );
        assert!(
            decline
                .sentence
                .contains("efficiency held (95 % → 95 % faster)")
        );
    }

    #[test]
    fn high_adoption_and_efficiency_with_happy_users_is_delivering() {
        assert_eq!(
            kinds(&figures(8, Some(99.0), (5, 5), Some(50.0))),
            ["delivering"]
        );
    }

    #[test]
    fn a_template_under_95_percent_and_few_automatic_approvals_are_flagged() {
        let mut i = figures(8, Some(99.0), (5, 5), Some(50.0));
        i.quality.per_template.push(Success {
            template: "flaky".into(),
            finished: 10,
            succeeded: 8,
            success_rate: 0.8,
            below_target: true,
        });
        i.efficiency.auto_approved_share = Some(0.5);
        let k = kinds(&i);
        assert!(k.contains(&"success-below-target") && k.contains(&"auto-approval-below-target"));
        assert!(!k.contains(&"delivering"));
    }
}
