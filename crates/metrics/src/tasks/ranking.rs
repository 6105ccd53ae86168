//! Ranking: per-query NDCG@k, average precision and reciprocal rank for the teacher and the
//! student, averaged over queries, the student's NDCG@10 retention, and per-query Kendall tau-b
//! between the two models' scores.
//!
//! Conventions, following scikit-learn where it has one:
//! - NDCG@k is `sklearn.metrics.ndcg_score(k=k)` (gains = relevance, log2 discount,
//!   `ignore_ties=False`): documents with equal scores share the mean of their gains
//!   (McSherry & Najork 2008).
//! - Average precision is `sklearn.metrics.average_precision_score` with relevance > 0 as
//!   relevant: the step integral of precision over recall at each distinct score, so tied
//!   documents enter together.
//! - Reciprocal rank is 1 / the 1-based position of the first relevant document when sorted by
//!   score, ties broken by input order.
//! - A query with no relevant document scores 0 on all three (scikit-learn gives NDCG 0 and
//!   average precision 0, with a warning for the latter; reciprocal rank has nothing to find)
//!   and is counted in the means; [`RankingEvaluation::queries_without_relevant`] says how many
//!   there were.
//! - A query with one document: scikit-learn's `ndcg_score` refuses it; we apply the same formula
//!   (NDCG 1 if that document is relevant, else 0).
//! - Kendall tau-b is [`crate::rank::kendall_tau_b`] (SciPy's `kendalltau`); it is undefined
//!   (NaN) for a one-document query or constant scores, and such queries are left out of its
//!   mean.

use std::collections::{BTreeMap, HashMap};

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::{check_finite, mean, retention};
use crate::bootstrap::{
    retention_bootstrap, BootstrapConfig, RetentionBootstrap, RetentionResample,
};
use crate::rank::kendall_tau_b;
use crate::{Error, Result, Thresholds};

/// NDCG cut-offs always reported.
pub const DEFAULT_CUTOFFS: [usize; 2] = [5, 10];

/// One (query, document) pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankingRow<'a> {
    /// The query the document was retrieved for; rows of one query need not be adjacent.
    pub query: &'a str,
    /// Graded relevance (0 = irrelevant); must be finite and at least 0.
    pub relevance: f64,
    /// The teacher's score (higher ranks first).
    pub teacher: f64,
    /// The student's score.
    pub student: f64,
}

/// NDCG cut-offs beyond the default 5 and 10.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RankingConfig {
    /// Extra `k` for NDCG@k; each must be at least 1.
    pub cutoffs: Vec<usize>,
}

/// NDCG at each cut-off `k`, serialised as `"ndcg@k": value` entries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NdcgAt(pub BTreeMap<usize, f64>);

impl NdcgAt {
    /// NDCG@k, if `k` was computed.
    pub fn get(&self, k: usize) -> Option<f64> {
        self.0.get(&k).copied()
    }
}

impl Serialize for NdcgAt {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(&format!("ndcg@{k}"), v)?;
        }
        map.end()
    }
}

/// One model's figures on one query.
#[derive(Debug, Clone, Serialize)]
pub struct QueryScores {
    /// NDCG at each cut-off.
    #[serde(flatten)]
    pub ndcg: NdcgAt,
    /// Average precision, relevance > 0 counting as relevant.
    pub average_precision: f64,
    /// 1 / rank of the first relevant document; 0 when there is none.
    pub reciprocal_rank: f64,
}

/// Both models on one query.
#[derive(Debug, Clone, Serialize)]
pub struct QueryMetrics {
    /// The query.
    pub query: String,
    /// Its documents.
    pub documents: usize,
    /// Its documents with relevance > 0.
    pub relevant: usize,
    /// The teacher's figures.
    pub teacher: QueryScores,
    /// The student's figures.
    pub student: QueryScores,
    /// Kendall tau-b between the teacher's and the student's scores; NaN when undefined.
    pub kendall_tau: f64,
    /// Its two-sided p-value.
    pub kendall_p_value: f64,
}

/// One model's figures averaged over queries.
#[derive(Debug, Clone, Serialize)]
pub struct RankingMetrics {
    /// Mean NDCG at each cut-off.
    #[serde(flatten)]
    pub ndcg: NdcgAt,
    /// Mean average precision.
    pub map: f64,
    /// Mean reciprocal rank.
    pub mrr: f64,
}

/// Teacher and student on one ranking test set.
#[derive(Debug, Clone, Serialize)]
pub struct RankingEvaluation {
    /// Number of queries.
    pub queries: usize,
    /// Number of (query, document) rows.
    pub documents: usize,
    /// Queries without any relevant document (they score 0 and count in the means).
    pub queries_without_relevant: usize,
    /// The teacher's figures.
    pub teacher: RankingMetrics,
    /// The student's figures.
    pub student: RankingMetrics,
    /// Student NDCG@10 / teacher NDCG@10; `None` when the teacher's is 0.
    #[serde(rename = "ndcg@10_retention")]
    pub ndcg_at_10_retention: Option<f64>,
    /// Mean per-query Kendall tau-b over the queries where it is defined.
    pub teacher_student_kendall: Option<f64>,
    /// Queries where Kendall tau-b is defined (two or more documents, neither model constant).
    pub kendall_queries: usize,
    /// Every query, in order of first appearance.
    pub per_query: Vec<QueryMetrics>,
}

/// `1 / log2(i + 2)`, the discount of 0-based position `i`, as scikit-learn writes it.
fn discount(i: usize) -> f64 {
    1.0 / ((i as f64 + 2.0).ln() / 2f64.ln())
}

/// Indices sorted by descending score; a stable sort, so ties keep input order.
fn by_score(scores: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    // Scores are validated finite; `partial_cmp` (unlike `total_cmp`) ties -0.0 with 0.0.
    idx.sort_by(|&a, &b| {
        scores[b]
            .partial_cmp(&scores[a])
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    idx
}

/// Runs of equal scores in `order` (descending): `(start, end)` position ranges.
fn tie_groups(scores: &[f64], order: &[usize]) -> Vec<(usize, usize)> {
    let mut groups = Vec::new();
    let mut start = 0;
    for end in 1..=order.len() {
        if end == order.len() || scores[order[end]] != scores[order[start]] {
            groups.push((start, end));
            start = end;
        }
    }
    groups
}

/// `sklearn.metrics.ndcg_score([relevance], [scores], k=k)` for one query (`None`: no cut-off).
///
/// Ties in `scores` are averaged: a group of tied documents contributes its mean gain times
/// the sum of the discounts of the positions it spans. 0 when no document is relevant.
pub fn ndcg(relevance: &[f64], scores: &[f64], k: Option<usize>) -> f64 {
    let n = relevance.len();
    let k = k.unwrap_or(n).min(n);
    // Cumulative discounts, constant after the cut-off (discount[k:] = 0 in scikit-learn).
    let mut cumsum = Vec::with_capacity(n);
    let mut acc = 0.0;
    for i in 0..n {
        if i < k {
            acc += discount(i);
        }
        cumsum.push(acc);
    }
    let order = by_score(scores);
    let mut gain = 0.0;
    for (start, end) in tie_groups(scores, &order) {
        let mean_gain =
            order[start..end].iter().map(|&i| relevance[i]).sum::<f64>() / (end - start) as f64;
        let before = if start == 0 { 0.0 } else { cumsum[start - 1] };
        gain += mean_gain * (cumsum[end - 1] - before);
    }
    let mut ideal: Vec<f64> = relevance.to_vec();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let best: f64 = ideal[..k]
        .iter()
        .enumerate()
        .map(|(i, &r)| r * discount(i))
        .sum();
    if best == 0.0 {
        0.0
    } else {
        gain / best
    }
}

/// `sklearn.metrics.average_precision_score(relevance > 0, scores)` for one query; 0 when no
/// document is relevant.
pub fn average_precision(relevance: &[f64], scores: &[f64]) -> f64 {
    let positives = relevance.iter().filter(|&&r| r > 0.0).count();
    if positives == 0 {
        return 0.0;
    }
    let order = by_score(scores);
    // Precision and recall at each distinct score, from the highest threshold down.
    let (mut tp, mut seen) = (0usize, 0usize);
    let mut curve = Vec::new();
    for (start, end) in tie_groups(scores, &order) {
        tp += order[start..end]
            .iter()
            .filter(|&&i| relevance[i] > 0.0)
            .count();
        seen += end - start;
        curve.push((tp as f64 / seen as f64, tp as f64 / positives as f64));
    }
    // scikit-learn's step integral: sum over thresholds of (R_i - R_{i-1}) P_i, with R = 0
    // before the first, taken from the lowest threshold up as `-sum(diff(recall) * precision)`.
    let mut ap = 0.0;
    for i in (0..curve.len()).rev() {
        let previous = if i == 0 { 0.0 } else { curve[i - 1].1 };
        ap += (curve[i].1 - previous) * curve[i].0;
    }
    ap.max(0.0)
}

/// 1 / the 1-based rank of the first relevant document (ties in score by input order); 0 when
/// none is relevant.
pub fn reciprocal_rank(relevance: &[f64], scores: &[f64]) -> f64 {
    by_score(scores)
        .iter()
        .position(|&i| relevance[i] > 0.0)
        .map_or(0.0, |p| 1.0 / (p + 1) as f64)
}

fn query_scores(relevance: &[f64], scores: &[f64], cutoffs: &[usize]) -> QueryScores {
    QueryScores {
        ndcg: NdcgAt(
            cutoffs
                .iter()
                .map(|&k| (k, ndcg(relevance, scores, Some(k))))
                .collect(),
        ),
        average_precision: average_precision(relevance, scores),
        reciprocal_rank: reciprocal_rank(relevance, scores),
    }
}

fn average(per_query: &[QueryMetrics], side: fn(&QueryMetrics) -> &QueryScores) -> RankingMetrics {
    let first = side(&per_query[0]);
    let ndcg = first
        .ndcg
        .0
        .keys()
        .map(|&k| {
            let v: Vec<f64> = per_query.iter().map(|q| side(q).ndcg.0[&k]).collect();
            (k, mean(&v))
        })
        .collect();
    let ap: Vec<f64> = per_query
        .iter()
        .map(|q| side(q).average_precision)
        .collect();
    let rr: Vec<f64> = per_query.iter().map(|q| side(q).reciprocal_rank).collect();
    RankingMetrics {
        ndcg: NdcgAt(ndcg),
        map: mean(&ap),
        mrr: mean(&rr),
    }
}

fn validate(rows: &[RankingRow<'_>], cfg: &RankingConfig) -> Result<()> {
    if rows.is_empty() {
        return Err(Error::NoInput {
            what: "ranking rows",
            hint: "pass one (query, relevance, teacher score, student score) row per document",
        });
    }
    if cfg.cutoffs.contains(&0) {
        return Err(Error::ZeroCutoff);
    }
    let column = |f: fn(&RankingRow<'_>) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    let relevance = column(|r| r.relevance);
    check_finite(&relevance, "relevance")?;
    if let Some(row) = relevance.iter().position(|&r| r < 0.0) {
        return Err(Error::NegativeRelevance {
            row,
            value: relevance[row],
        });
    }
    check_finite(&column(|r| r.teacher), "teacher score")?;
    check_finite(&column(|r| r.student), "student score")?;
    Ok(())
}

/// Scores the teacher's and the student's rankings of each query's documents.
///
/// ```
/// use distill_eval_metrics::tasks::ranking::{evaluate_ranking, RankingConfig, RankingRow};
///
/// let row = |query, relevance, teacher, student| RankingRow { query, relevance, teacher, student };
/// let rows = [row("q1", 1.0, 0.9, 0.2), row("q1", 0.0, 0.1, 0.8)];
/// let eval = evaluate_ranking(&rows, &RankingConfig::default())?;
/// assert_eq!(eval.teacher.mrr, 1.0);
/// assert_eq!(eval.student.mrr, 0.5); // the relevant document comes second
/// assert_eq!(eval.per_query[0].kendall_tau, -1.0);
/// # Ok::<(), distill_eval_metrics::Error>(())
/// ```
pub fn evaluate_ranking(rows: &[RankingRow<'_>], cfg: &RankingConfig) -> Result<RankingEvaluation> {
    validate(rows, cfg)?;
    let mut cutoffs: Vec<usize> = DEFAULT_CUTOFFS
        .iter()
        .chain(&cfg.cutoffs)
        .copied()
        .collect();
    cutoffs.sort_unstable();
    cutoffs.dedup();

    // Group rows by query, queries in order of first appearance, rows in input order.
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut groups: Vec<(&str, Vec<&RankingRow<'_>>)> = Vec::new();
    for row in rows {
        let g = *index.entry(row.query).or_insert_with(|| {
            groups.push((row.query, Vec::new()));
            groups.len() - 1
        });
        groups[g].1.push(row);
    }

    let per_query: Vec<QueryMetrics> = groups
        .iter()
        .map(|(query, docs)| {
            let relevance: Vec<f64> = docs.iter().map(|r| r.relevance).collect();
            let teacher: Vec<f64> = docs.iter().map(|r| r.teacher).collect();
            let student: Vec<f64> = docs.iter().map(|r| r.student).collect();
            // `+ 0.0` turns -0.0 into 0.0: they tie, but `kendall_tau_b` sorts with `total_cmp`.
            let unsigned = |v: &[f64]| v.iter().map(|x| x + 0.0).collect::<Vec<f64>>();
            let tau = kendall_tau_b(&unsigned(&teacher), &unsigned(&student));
            QueryMetrics {
                query: (*query).to_owned(),
                documents: docs.len(),
                relevant: relevance.iter().filter(|&&r| r > 0.0).count(),
                teacher: query_scores(&relevance, &teacher, &cutoffs),
                student: query_scores(&relevance, &student, &cutoffs),
                kendall_tau: tau.statistic,
                kendall_p_value: tau.p_value,
            }
        })
        .collect();

    let teacher = average(&per_query, |q| &q.teacher);
    let student = average(&per_query, |q| &q.student);
    let taus: Vec<f64> = per_query
        .iter()
        .map(|q| q.kendall_tau)
        .filter(|t| !t.is_nan())
        .collect();
    let at_10 = |m: &RankingMetrics| m.ndcg.get(10).unwrap_or(f64::NAN);
    Ok(RankingEvaluation {
        queries: per_query.len(),
        documents: rows.len(),
        queries_without_relevant: per_query.iter().filter(|q| q.relevant == 0).count(),
        ndcg_at_10_retention: retention(at_10(&student), at_10(&teacher)),
        teacher_student_kendall: (!taus.is_empty()).then(|| mean(&taus)),
        kendall_queries: taus.len(),
        teacher,
        student,
        per_query,
    })
}

/// Paired bootstrap of the queries of an evaluation: each resample draws as many queries with
/// replacement and averages their NDCG@10 (each query's value as in `per_query`), giving
/// intervals of each model's NDCG@10 and of `ndcg@10_retention`.
pub fn bootstrap_ndcg10(
    evaluation: &RankingEvaluation,
    thresholds: &Thresholds,
    cfg: &BootstrapConfig,
) -> Result<RetentionBootstrap> {
    let at_10 = |s: &QueryScores| s.ndcg.get(10).unwrap_or(f64::NAN);
    let t: Vec<f64> = evaluation
        .per_query
        .iter()
        .map(|q| at_10(&q.teacher))
        .collect();
    let s: Vec<f64> = evaluation
        .per_query
        .iter()
        .map(|q| at_10(&q.student))
        .collect();
    let weighted = |v: &[f64], w: &[u32]| {
        let n: f64 = w.iter().map(|&w| f64::from(w)).sum();
        v.iter().zip(w).map(|(x, &w)| f64::from(w) * x).sum::<f64>() / n
    };
    let figures = |w: &[u32]| (weighted(&t, w), weighted(&s, w));
    retention_bootstrap(
        &RetentionResample {
            unit: "queries",
            units: t.len(),
            figure: "ndcg@10",
            figures: &figures,
        },
        thresholds,
        cfg,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r4(x: f64) -> f64 {
        (x * 1e4).round() / 1e4
    }

    #[test]
    fn ndcg_by_hand() {
        // Order by score: gains 3 2 0 1; DCG = 3 + 2/log2(3) + 0 + 1/log2(5) = 4.6925
        // ideal 3 2 1 0: 3 + 2/log2(3) + 1/2 = 4.7619; NDCG = 0.9854
        let rel = [3.0, 2.0, 1.0, 0.0];
        let sc = [0.9, 0.8, 0.1, 0.5];
        assert_eq!(r4(ndcg(&rel, &sc, None)), 0.9854);
        // k = 2: both first positions are ideal.
        assert_eq!(r4(ndcg(&rel, &sc, Some(2))), 1.0);
        // k = 3: DCG 3 + 1.2619 = 4.2619 against 4.7619: 0.8950
        assert_eq!(r4(ndcg(&rel, &sc, Some(3))), 0.895);
    }

    #[test]
    fn tied_scores_share_their_gains() {
        // All tied: every position gets the mean gain 1.5 -> 1.5 * (1 + 1/log2(3)) = 2.4464,
        // ideal 3 + 0 = 3: NDCG = 0.8155 (sklearn 0.8154648767857285)
        assert_eq!(r4(ndcg(&[3.0, 0.0], &[1.0, 1.0], None)), 0.8155);
        // k = 1 with the tie spanning the cut-off: 1.5 * 1 / 3 = 0.5
        assert_eq!(r4(ndcg(&[3.0, 0.0], &[1.0, 1.0], Some(1))), 0.5);
    }

    #[test]
    fn average_precision_by_hand() {
        // Sorted: rel, irr, rel: P@1 = 1 (R 1/2), P@3 = 2/3 (R 1): AP = 1/2 + 1/2 * 2/3 = 5/6
        assert_eq!(
            r4(average_precision(&[1.0, 0.0, 2.0], &[0.9, 0.5, 0.1])),
            0.8333
        );
        // A tie between a relevant and an irrelevant document at the top: one threshold with
        // P = 1/2, R = 1/2, then P = 2/3 at R = 1: AP = 1/4 + 1/3 = 7/12
        assert_eq!(
            r4(average_precision(&[1.0, 0.0, 2.0], &[0.9, 0.9, 0.1])),
            0.5833
        );
    }

    #[test]
    fn reciprocal_rank_breaks_ties_by_input_order() {
        assert_eq!(reciprocal_rank(&[0.0, 1.0], &[0.5, 0.5]), 0.5);
        assert_eq!(reciprocal_rank(&[1.0, 0.0], &[0.5, 0.5]), 1.0);
        assert_eq!(reciprocal_rank(&[0.0, 0.0, 1.0], &[0.1, 0.9, 0.3]), 0.5);
    }

    #[test]
    fn a_query_without_relevant_documents_scores_zero() {
        let row = |query, relevance, teacher, student| RankingRow {
            query,
            relevance,
            teacher,
            student,
        };
        let rows = [
            row("a", 1.0, 0.9, 0.1),
            row("b", 0.0, 0.3, 0.3),
            row("a", 0.0, 0.2, 0.5),
            row("b", 0.0, 0.1, 0.2),
        ];
        let cfg = RankingConfig { cutoffs: vec![1] };
        let e = evaluate_ranking(&rows, &cfg).unwrap();
        assert_eq!(
            (e.queries, e.documents, e.queries_without_relevant),
            (2, 4, 1)
        );
        assert_eq!(e.per_query[0].query, "a");
        let b = &e.per_query[1].teacher;
        assert_eq!((b.average_precision, b.reciprocal_rank), (0.0, 0.0));
        assert_eq!(b.ndcg.get(10), Some(0.0));
        // Teacher: query a perfect (1), b zero: means 1/2. Student ranks a's relevant second:
        // NDCG@10 = (1/log2(3)) / 1 = 0.6309, mean 0.3155; MRR (1/2 + 0) / 2.
        assert_eq!(r4(e.teacher.ndcg.get(10).unwrap()), 0.5);
        assert_eq!(r4(e.student.ndcg.get(10).unwrap()), 0.3155);
        assert_eq!(r4(e.student.mrr), 0.25);
        assert_eq!(r4(e.ndcg_at_10_retention.unwrap()), 0.6309);
        assert_eq!(e.student.ndcg.get(1), Some(0.0));
        // Kendall: a is reversed (-1), b is concordant (+1): mean 0.
        assert_eq!(e.kendall_queries, 2);
        assert_eq!(e.teacher_student_kendall, Some(0.0));
        let json = serde_json::to_value(&e.teacher).unwrap();
        assert!(json.get("ndcg@10").is_some() && json.get("ndcg@1").is_some());
    }

    #[test]
    fn bad_rows_are_errors() {
        let row = RankingRow {
            query: "q",
            relevance: 1.0,
            teacher: 0.5,
            student: 0.5,
        };
        let cfg = RankingConfig::default();
        assert!(matches!(
            evaluate_ranking(&[], &cfg),
            Err(Error::NoInput { .. })
        ));
        let neg = RankingRow {
            relevance: -1.0,
            ..row
        };
        assert!(matches!(
            evaluate_ranking(&[row, neg], &cfg),
            Err(Error::NegativeRelevance { row: 1, .. })
        ));
        let nan = RankingRow {
            student: f64::NAN,
            ..row
        };
        assert!(matches!(
            evaluate_ranking(&[nan], &cfg),
            Err(Error::NotFinite {
                what: "student score",
                row: 0,
                ..
            })
        ));
        let zero = RankingConfig { cutoffs: vec![0] };
        assert!(matches!(
            evaluate_ranking(&[row], &zero),
            Err(Error::ZeroCutoff)
        ));
    }

    #[test]
    fn query_bootstrap_matches_an_evaluation_of_the_drawn_queries() {
        // Three queries; the student swaps the top two documents of q2.
        let names: Vec<String> = (0..3).map(|i| format!("q{i}")).collect();
        let mut rows = Vec::new();
        for (q, name) in names.iter().enumerate() {
            for d in 0..4 {
                let relevance = f64::from(u8::from(d == q || d == 3));
                let teacher = 1.0 - 0.1 * d as f64;
                let student = if q == 2 && d < 2 {
                    0.5 + 0.1 * d as f64
                } else {
                    teacher
                };
                rows.push(RankingRow {
                    query: name,
                    relevance,
                    teacher,
                    student,
                });
            }
        }
        let cfg = RankingConfig::default();
        let eval = evaluate_ranking(&rows, &cfg).unwrap();
        let boot = BootstrapConfig {
            resamples: 50,
            seed: 2,
            level: 0.95,
        };
        let b = bootstrap_ndcg10(&eval, &Thresholds::default(), &boot).unwrap();
        assert_eq!(b.units, 3);
        let r = b.retention.unwrap();
        assert!((r.estimate - eval.ndcg_at_10_retention.unwrap()).abs() < 1e-12);
        assert!(r.lower <= r.estimate && r.estimate <= r.upper, "{r:?}");
        // Independently: each resample's queries written out as distinct queries and
        // evaluated from rows, the retentions sorted, NumPy's linear percentiles.
        let copies: Vec<String> = (0..3).map(|i| format!("copy{i}")).collect();
        let mut ratios: Vec<f64> = (0..50)
            .map(|i| {
                let w = crate::bootstrap::resample_weights(2, i, 3);
                let mut drawn = Vec::new();
                let mut next = 0;
                for (q, &k) in w.iter().enumerate() {
                    for _ in 0..k {
                        for row in rows.iter().filter(|r| r.query == names[q]) {
                            drawn.push(RankingRow {
                                query: &copies[next],
                                ..*row
                            });
                        }
                        next += 1;
                    }
                }
                let e = evaluate_ranking(&drawn, &cfg).unwrap();
                e.student.ndcg.0[&10] / e.teacher.ndcg.0[&10]
            })
            .collect();
        ratios.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let h = 49.0 * q;
            let lo = h.floor() as usize;
            ratios[lo] + (ratios[lo + 1] - ratios[lo]) * (h - lo as f64)
        };
        assert!((r.lower - at(0.025)).abs() < 1e-9, "{r:?} {ratios:?}");
        assert!((r.upper - at(0.975)).abs() < 1e-9, "{r:?} {ratios:?}");
        // A teacher with no relevant document anywhere has no retention to bootstrap.
        let flat: Vec<RankingRow<'_>> = rows
            .iter()
            .map(|r| RankingRow {
                relevance: 0.0,
                ..*r
            })
            .collect();
        let eval = evaluate_ranking(&flat, &cfg).unwrap();
        let b = bootstrap_ndcg10(&eval, &Thresholds::default(), &boot).unwrap();
        assert!(b.retention.is_none());
    }
}
