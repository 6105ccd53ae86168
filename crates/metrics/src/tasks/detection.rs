//! Object detection: the twelve COCO bounding-box statistics exactly as pycocotools' `COCOeval`
//! computes them, per-class AP, the mean best IoU of each ground-truth box, and the student's
//! mAP retention; plus the typed COCO JSON (ground truth and result lists) they are computed
//! from.
//!
//! The algorithm follows pycocotools 2.0 `cocoeval.py` (`evaluateImg`, `accumulate`,
//! `summarize`) and `maskApi.c` (`bbIou`):
//! - images and categories in ascending id order; within an (image, category) the ground truth
//!   and the detections keep their input order, detections are then sorted by descending score
//!   with a stable sort (pycocotools' `mergesort`) and cut to the 100 best;
//! - ground truth is ignored when `iscrowd` is set or its annotated `area` (not the box's area)
//!   falls outside the area range; a detection is ignored when it matches an ignored box, or is
//!   unmatched and its box area `w * h` falls outside the range;
//! - greedy matching per IoU threshold (0.50:0.05:0.95, as `np.linspace` computes them): each
//!   detection, best score first, takes the unmatched box with the highest IoU >= the threshold,
//!   preferring boxes that are not ignored; crowd boxes can be matched repeatedly and their IoU
//!   is intersection / detection area;
//! - precision interpolated at 101 recall points (the running maximum from the right, looked up
//!   with `searchsorted(side='left')`), scores pooled over images before sorting (stable, images
//!   in id order).
//!
//! Where pycocotools returns -1 (no ground truth that is not ignored: no small objects, or a
//! category with no boxes) our figures are `None`, serialised as JSON `null`, and left out of the
//! means exactly as pycocotools leaves -1 out.
//!
//! Our choices where pycocotools has none or fails:
//! - an empty detection list is scored (AP 0 for every category with ground truth;
//!   pycocotools' `loadRes` raises on an empty list);
//! - detections for an image or a category that the ground truth does not list are errors
//!   (pycocotools asserts on unknown images and silently drops unknown categories);
//! - duplicate image, category or annotation ids, annotation id 0 (which pycocotools confuses
//!   with "unmatched") and boxes with a negative width or height are errors;
//! - an annotation without `area` uses its box's `w * h` (pycocotools raises a `KeyError`);
//! - `mean_best_iou` (for each ground-truth box, crowd boxes included, the highest plain IoU of
//!   any detection of its image and category, 0 when there is none, averaged over boxes) counts
//!   the IoU of two empty boxes as 0.

use std::collections::HashMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::retention;
use crate::bootstrap::{
    retention_bootstrap, BootstrapConfig, RetentionBootstrap, RetentionResample,
};
use crate::{Error, Result, Side, Thresholds};

/// Number of IoU thresholds.
const T: usize = 10;
/// Number of recall points.
const R: usize = 101;
/// `maxDets`.
const MAX_DETS: [usize; 3] = [1, 10, 100];
/// `areaRng`: all, small, medium, large (pycocotools writes them as squares).
const AREA_RANGES: [(f64, f64); 4] = [(0.0, 1e10), (0.0, 1024.0), (1024.0, 9216.0), (9216.0, 1e10)];

/// `np.linspace(.5, .95, 10)`: `i * step + start`, the last set to the stop exactly.
fn iou_thresholds() -> [f64; T] {
    let step = (0.95 - 0.5) / (T - 1) as f64;
    let mut t: [f64; T] = std::array::from_fn(|i| i as f64 * step + 0.5);
    t[T - 1] = 0.95;
    t
}

/// `np.linspace(0, 1, 101)`.
fn recall_thresholds() -> [f64; R] {
    let step = 1.0 / (R - 1) as f64;
    let mut r: [f64; R] = std::array::from_fn(|i| i as f64 * step);
    r[R - 1] = 1.0;
    r
}

/// An image of the ground truth (only its id is used).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CocoImage {
    /// Image id, referenced by annotations and detections.
    pub id: i64,
    /// Width in pixels, if given.
    #[serde(default)]
    pub width: Option<f64>,
    /// Height in pixels, if given.
    #[serde(default)]
    pub height: Option<f64>,
    /// File name, if given.
    #[serde(default)]
    pub file_name: Option<String>,
}

/// A ground-truth box.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CocoAnnotation {
    /// Annotation id (unique, not 0).
    pub id: i64,
    /// The image it is in.
    pub image_id: i64,
    /// Its category.
    pub category_id: i64,
    /// `[x, y, width, height]`.
    pub bbox: [f64; 4],
    /// Annotated area (of the segmentation, in COCO); the area ranges use this, not the box's.
    #[serde(default)]
    pub area: Option<f64>,
    /// Crowd region: ignored for AP/AR, may absorb many detections (`0`/`1` or a boolean).
    #[serde(default, deserialize_with = "flag")]
    pub iscrowd: bool,
}

/// A category of the ground truth.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CocoCategory {
    /// Category id.
    pub id: i64,
    /// Display name.
    #[serde(default)]
    pub name: String,
}

/// A COCO ground-truth file: images, annotations and categories (other keys are ignored).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CocoGroundTruth {
    /// The test set's images.
    pub images: Vec<CocoImage>,
    /// The ground-truth boxes.
    #[serde(default)]
    pub annotations: Vec<CocoAnnotation>,
    /// The categories.
    pub categories: Vec<CocoCategory>,
}

/// One entry of a COCO results list.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
pub struct CocoDetection {
    /// The image.
    pub image_id: i64,
    /// The predicted category.
    pub category_id: i64,
    /// `[x, y, width, height]`.
    pub bbox: [f64; 4],
    /// Confidence; higher is matched first.
    pub score: f64,
}

fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> std::result::Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Int(i64),
    }
    Ok(match Flag::deserialize(deserializer)? {
        Flag::Bool(b) => b,
        Flag::Int(i) => i != 0,
    })
}

impl CocoGroundTruth {
    /// Parses a COCO ground-truth document.
    pub fn from_json(json: &str) -> Result<Self> {
        serde_json::from_str(json).map_err(|source| Error::CocoJson {
            what: "ground truth",
            hint: "expected {\"images\": [{\"id\"}], \"annotations\": [{\"id\", \"image_id\", \
                   \"category_id\", \"bbox\": [x, y, w, h], \"area\", \"iscrowd\"}], \
                   \"categories\": [{\"id\", \"name\"}]}",
            source,
        })
    }
}

/// Parses a COCO results list (`[{"image_id", "category_id", "bbox", "score"}, ...]`).
pub fn parse_detections(json: &str, side: Side) -> Result<Vec<CocoDetection>> {
    serde_json::from_str(json).map_err(|source| Error::CocoJson {
        what: match side {
            Side::Teacher => "teacher detections",
            Side::Student => "student detections",
        },
        hint: "expected a list of {\"image_id\", \"category_id\", \"bbox\": [x, y, w, h], \
               \"score\"}, as written for pycocotools' loadRes",
        source,
    })
}

/// A category's AP over IoU 0.50:0.95 (all areas, 100 detections).
#[derive(Debug, Clone, Serialize)]
pub struct ClassAp {
    /// Category id.
    pub category_id: i64,
    /// Category name.
    pub name: String,
    /// Non-crowd ground-truth boxes of this category.
    pub ground_truth: usize,
    /// AP@[.50:.95]; `None` when the category has no ground truth that is not ignored.
    pub ap: Option<f64>,
}

/// One model's COCO figures; `None` where pycocotools reports -1.
#[derive(Debug, Clone, Serialize)]
pub struct DetectionMetrics {
    /// AP@[.50:.95], all areas, 100 detections.
    pub map: Option<f64>,
    /// AP@.50.
    pub map_50: Option<f64>,
    /// AP@.75.
    pub map_75: Option<f64>,
    /// AP@[.50:.95] of small objects (area < 32²).
    pub map_small: Option<f64>,
    /// ... of medium objects (32² to 96²).
    pub map_medium: Option<f64>,
    /// ... of large objects (> 96²).
    pub map_large: Option<f64>,
    /// AR@[.50:.95] with 1 detection per image.
    pub mar_1: Option<f64>,
    /// ... with 10 detections per image.
    pub mar_10: Option<f64>,
    /// ... with 100 detections per image.
    pub mar_100: Option<f64>,
    /// AR of small objects (100 detections).
    pub mar_small: Option<f64>,
    /// AR of medium objects.
    pub mar_medium: Option<f64>,
    /// AR of large objects.
    pub mar_large: Option<f64>,
    /// Mean over ground-truth boxes of the best IoU of a same-category detection (0 if none);
    /// `None` without ground truth.
    pub mean_best_iou: Option<f64>,
    /// AP per category, in ascending category id.
    pub per_class: Vec<ClassAp>,
    /// Detections scored.
    pub detections: usize,
}

/// Teacher and student on one detection test set.
#[derive(Debug, Clone, Serialize)]
pub struct DetectionEvaluation {
    /// Images in the ground truth.
    pub images: usize,
    /// Ground-truth boxes (crowd included).
    pub annotations: usize,
    /// The teacher's figures.
    pub teacher: DetectionMetrics,
    /// The student's figures.
    pub student: DetectionMetrics,
    /// Student mAP / teacher mAP; `None` when the teacher's is 0 or undefined.
    pub map_retention: Option<f64>,
}

/// A ground-truth box, prepared.
struct GtBox {
    bbox: [f64; 4],
    area: f64,
    crowd: bool,
}

/// The validated ground truth, grouped by (category, image) in ascending ids.
struct Index<'a> {
    gt: &'a CocoGroundTruth,
    /// Position of each image id in ascending order.
    images: HashMap<i64, usize>,
    /// Position of each category id in ascending order.
    categories: HashMap<i64, usize>,
    /// Categories in ascending id.
    sorted_categories: Vec<&'a CocoCategory>,
    /// `boxes[k][i]`: ground truth of category k in image i, input order.
    boxes: Vec<Vec<Vec<GtBox>>>,
}

/// Positions of ids in ascending order, or the first duplicate.
fn positions(ids: impl Iterator<Item = i64>, what: &'static str) -> Result<HashMap<i64, usize>> {
    let mut sorted: Vec<i64> = ids.collect();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::DuplicateId { what, id: w[0] });
    }
    Ok(sorted
        .into_iter()
        .enumerate()
        .map(|(p, id)| (id, p))
        .collect())
}

fn check_box(
    bbox: &[f64; 4],
    what: &'static str,
    coordinate: &'static str,
    index: usize,
) -> Result<()> {
    if let Some(&value) = bbox.iter().find(|v| !v.is_finite()) {
        return Err(Error::NotFinite {
            what: coordinate,
            row: index,
            value,
        });
    }
    if bbox[2] < 0.0 || bbox[3] < 0.0 {
        return Err(Error::NegativeBoxSize {
            what,
            index,
            width: bbox[2],
            height: bbox[3],
        });
    }
    Ok(())
}

impl<'a> Index<'a> {
    fn new(gt: &'a CocoGroundTruth) -> Result<Self> {
        if gt.images.is_empty() {
            return Err(Error::NoInput {
                what: "ground-truth images",
                hint: "the ground truth's \"images\" list must name every image of the test set",
            });
        }
        let images = positions(gt.images.iter().map(|i| i.id), "images")?;
        let categories = positions(gt.categories.iter().map(|c| c.id), "categories")?;
        positions(gt.annotations.iter().map(|a| a.id), "annotations")?;
        let mut sorted_categories: Vec<&CocoCategory> = gt.categories.iter().collect();
        sorted_categories.sort_by_key(|c| c.id);

        let mut boxes: Vec<Vec<Vec<GtBox>>> = (0..categories.len())
            .map(|_| (0..images.len()).map(|_| Vec::new()).collect())
            .collect();
        const WHAT: &str = "ground-truth annotation";
        for (index, a) in gt.annotations.iter().enumerate() {
            if a.id == 0 {
                return Err(Error::ZeroAnnotationId { index });
            }
            let &i = images.get(&a.image_id).ok_or(Error::UnknownImage {
                what: WHAT,
                index,
                image_id: a.image_id,
            })?;
            let &k = categories
                .get(&a.category_id)
                .ok_or(Error::UnknownCategory {
                    what: WHAT,
                    index,
                    category_id: a.category_id,
                })?;
            check_box(&a.bbox, WHAT, "ground-truth box coordinate", index)?;
            let area = a.area.unwrap_or(a.bbox[2] * a.bbox[3]);
            if !area.is_finite() {
                return Err(Error::NotFinite {
                    what: "ground-truth area",
                    row: index,
                    value: area,
                });
            }
            boxes[k][i].push(GtBox {
                bbox: a.bbox,
                area,
                crowd: a.iscrowd,
            });
        }
        Ok(Self {
            gt,
            images,
            categories,
            sorted_categories,
            boxes,
        })
    }
}

/// Names for one results list in error messages.
struct Labels {
    item: &'static str,
    coordinate: &'static str,
    score: &'static str,
}

const DETECTION: Labels = Labels {
    item: "detection",
    coordinate: "detection box coordinate",
    score: "detection score",
};

fn labels(side: Side) -> Labels {
    match side {
        Side::Teacher => Labels {
            item: "teacher detection",
            coordinate: "teacher box coordinate",
            score: "teacher detection score",
        },
        Side::Student => Labels {
            item: "student detection",
            coordinate: "student box coordinate",
            score: "student detection score",
        },
    }
}

/// `bbIou` of pycocotools' `maskApi.c`: for a crowd box the union is the detection's area.
fn coco_iou(d: &[f64; 4], g: &[f64; 4], crowd: bool) -> f64 {
    let w = (d[2] + d[0]).min(g[2] + g[0]) - d[0].max(g[0]);
    if w <= 0.0 {
        return 0.0;
    }
    let h = (d[3] + d[1]).min(g[3] + g[1]) - d[1].max(g[1]);
    if h <= 0.0 {
        return 0.0;
    }
    let i = w * h;
    let da = d[2] * d[3];
    let u = if crowd { da } else { da + g[2] * g[3] - i };
    i / u
}

/// Plain IoU as the conformance reference computes it for `mean_best_iou`; 0 for two empty
/// boxes.
fn plain_iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let iw = ((a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0])).max(0.0);
    let ih = ((a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let union = a[2] * a[3] + b[2] * b[3] - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// `evaluateImg` for one (image, category, area range): the detections (best first, at most
/// 100) with their match and ignore flags per IoU threshold.
struct ImageEval {
    scores: Vec<f64>,
    matched: Vec<[bool; T]>,
    ignored: Vec<[bool; T]>,
    /// Ground-truth boxes that are not ignored.
    kept: usize,
}

fn evaluate_image(
    gts: &[GtBox],
    dts: &[&CocoDetection],
    ious: &[Vec<f64>],
    range: (f64, f64),
    thresholds: &[f64; T],
) -> ImageEval {
    let outside = |area: f64| area < range.0 || area > range.1;
    let ignore: Vec<bool> = gts.iter().map(|g| g.crowd || outside(g.area)).collect();
    // Boxes that count come first (a stable sort, as pycocotools' mergesort).
    let mut order: Vec<usize> = (0..gts.len()).collect();
    order.sort_by_key(|&g| ignore[g]);

    let mut matched = vec![[false; T]; dts.len()];
    let mut ignored = vec![[false; T]; dts.len()];
    let mut taken = vec![[false; T]; gts.len()];
    for (t, &threshold) in thresholds.iter().enumerate() {
        for (d, iou_row) in ious.iter().enumerate() {
            let mut best = threshold.min(1.0 - 1e-10);
            let mut m: Option<usize> = None;
            for &g in &order {
                if taken[g][t] && !gts[g].crowd {
                    continue;
                }
                // Once matched to a box that counts, stop at the first ignored one.
                if m.is_some_and(|m| !ignore[m]) && ignore[g] {
                    break;
                }
                if iou_row[g] < best {
                    continue;
                }
                best = iou_row[g];
                m = Some(g);
            }
            if let Some(g) = m {
                ignored[d][t] = ignore[g];
                matched[d][t] = true;
                taken[g][t] = true;
            }
        }
    }
    for (d, dt) in dts.iter().enumerate() {
        if outside(dt.bbox[2] * dt.bbox[3]) {
            for t in 0..T {
                ignored[d][t] |= !matched[d][t];
            }
        }
    }
    ImageEval {
        scores: dts.iter().map(|d| d.score).collect(),
        matched,
        ignored,
        kept: ignore.iter().filter(|&&i| !i).count(),
    }
}

/// `accumulate` for one (category, area range, maxDets): precision at the recall points and
/// the final recall, per IoU threshold; `None` where pycocotools leaves -1.
struct Curve {
    precision: Vec<[f64; R]>,
    recall: [f64; T],
}

///
/// Each image comes with a weight, its multiplicity in a bootstrap resample (1 otherwise): an
/// image drawn `w` times counts `w` times in the true and false positives and the ground truth,
/// which gives the curve of the `w` copies pooled (copies are adjacent among equal scores).
fn accumulate(
    evals: &[(&ImageEval, f64)],
    max_det: usize,
    rec_thresholds: &[f64; R],
) -> Option<Curve> {
    if evals.is_empty() {
        return None;
    }
    let kept: f64 = evals.iter().map(|(e, w)| w * e.kept as f64).sum();
    if kept == 0.0 {
        return None;
    }
    // (score, image position, detection position): pooled, then a stable sort by score.
    let mut pool: Vec<(f64, usize, usize)> = Vec::new();
    for (e, (eval, w)) in evals.iter().enumerate() {
        if *w == 0.0 {
            continue;
        }
        for d in 0..eval.scores.len().min(max_det) {
            pool.push((eval.scores[d], e, d));
        }
    }
    pool.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));

    let mut precision = Vec::with_capacity(T);
    let mut recall = [0.0; T];
    for (t, final_recall) in recall.iter_mut().enumerate() {
        let (mut tp, mut fp) = (0.0f64, 0.0f64);
        let mut rc = Vec::with_capacity(pool.len());
        let mut pr = Vec::with_capacity(pool.len());
        for &(_, e, d) in &pool {
            let (eval, w) = evals[e];
            if !eval.ignored[d][t] {
                if eval.matched[d][t] {
                    tp += w;
                } else {
                    fp += w;
                }
            }
            rc.push(tp / kept);
            pr.push(tp / (fp + tp + f64::EPSILON));
        }
        *final_recall = rc.last().copied().unwrap_or(0.0);
        for i in (1..pr.len()).rev() {
            if pr[i] > pr[i - 1] {
                pr[i - 1] = pr[i];
            }
        }
        let mut q = [0.0; R];
        for (r, &threshold) in rec_thresholds.iter().enumerate() {
            let i = rc.partition_point(|&x| x < threshold);
            if i >= pr.len() {
                break;
            }
            q[r] = pr[i];
        }
        precision.push(q);
    }
    Some(Curve { precision, recall })
}

/// Mean of the defined values, or `None` (pycocotools' -1) when there are none.
fn mean_defined(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for v in values {
        sum += v;
        n += 1;
    }
    (n > 0).then(|| sum / n as f64)
}

/// `grouped[k][i]`: the detections of category k in image i, input order; unknown images or
/// categories, bad boxes and non-finite scores are errors naming the detection.
fn group<'d>(
    index: &Index<'_>,
    dets: &'d [CocoDetection],
    labels: &Labels,
) -> Result<Vec<Vec<Vec<&'d CocoDetection>>>> {
    let (nk, ni) = (index.categories.len(), index.images.len());
    let mut grouped: Vec<Vec<Vec<&CocoDetection>>> = (0..nk)
        .map(|_| (0..ni).map(|_| Vec::new()).collect())
        .collect();
    for (row, d) in dets.iter().enumerate() {
        check_box(&d.bbox, labels.item, labels.coordinate, row)?;
        if !d.score.is_finite() {
            return Err(Error::NotFinite {
                what: labels.score,
                row,
                value: d.score,
            });
        }
        let &i = index.images.get(&d.image_id).ok_or(Error::UnknownImage {
            what: labels.item,
            index: row,
            image_id: d.image_id,
        })?;
        let &k = index
            .categories
            .get(&d.category_id)
            .ok_or(Error::UnknownCategory {
                what: labels.item,
                index: row,
                category_id: d.category_id,
            })?;
        grouped[k][i].push(d);
    }
    Ok(grouped)
}

/// `evaluateImg` of one (image, category) for each area range: the detections sorted by
/// descending score (stable) and cut to the 100 best; `None` when it has neither ground truth
/// nor detections.
fn image_evals(
    gts: &[GtBox],
    dts: &[&CocoDetection],
    ranges: &[(f64, f64)],
    thresholds: &[f64; T],
) -> Option<Vec<ImageEval>> {
    if gts.is_empty() && dts.is_empty() {
        return None;
    }
    let mut dts = dts.to_vec();
    dts.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    dts.truncate(MAX_DETS[2]);
    let ious: Vec<Vec<f64>> = dts
        .iter()
        .map(|d| {
            gts.iter()
                .map(|g| coco_iou(&d.bbox, &g.bbox, g.crowd))
                .collect()
        })
        .collect();
    Some(
        ranges
            .iter()
            .map(|&range| evaluate_image(gts, &dts, &ious, range, thresholds))
            .collect(),
    )
}

fn evaluate(
    index: &Index<'_>,
    dets: &[CocoDetection],
    labels: &Labels,
) -> Result<DetectionMetrics> {
    let (nk, ni) = (index.categories.len(), index.images.len());
    let grouped = group(index, dets, labels)?;
    let thresholds = iou_thresholds();
    let rec_thresholds = recall_thresholds();
    // curves[k][a][m]
    let mut curves: Vec<Vec<Vec<Option<Curve>>>> = Vec::with_capacity(nk);
    let mut best_iou_sum = 0.0;
    for (dets_k, gts_k) in grouped.iter().zip(&index.boxes) {
        // evals[a][i]
        let mut evals: Vec<Vec<Option<ImageEval>>> = (0..AREA_RANGES.len())
            .map(|_| Vec::with_capacity(ni))
            .collect();
        for (dts, gts) in dets_k.iter().zip(gts_k) {
            for g in gts {
                best_iou_sum += dts
                    .iter()
                    .map(|d| plain_iou(&g.bbox, &d.bbox))
                    .fold(0.0, f64::max);
            }
            match image_evals(gts, dts, &AREA_RANGES, &thresholds) {
                Some(per_range) => {
                    for (a, e) in per_range.into_iter().enumerate() {
                        evals[a].push(Some(e));
                    }
                }
                None => evals.iter_mut().for_each(|e| e.push(None)),
            }
        }
        curves.push(
            evals
                .iter()
                .map(|per_image| {
                    let present: Vec<(&ImageEval, f64)> =
                        per_image.iter().flatten().map(|e| (e, 1.0)).collect();
                    MAX_DETS
                        .iter()
                        .map(|&m| accumulate(&present, m, &rec_thresholds))
                        .collect()
                })
                .collect(),
        );
    }

    // summarize(): AP over (t, r, k), AR over (t, k), skipping undefined blocks.
    let ap = |t: Option<usize>, a: usize| {
        mean_defined(
            curves
                .iter()
                .filter_map(|c| c[a][2].as_ref())
                .flat_map(|c| {
                    c.precision
                        .iter()
                        .enumerate()
                        .filter(move |(ti, _)| t.is_none_or(|t| t == *ti))
                        .flat_map(|(_, row)| row.iter().copied())
                }),
        )
    };
    let ar = |a: usize, m: usize| {
        mean_defined(
            curves
                .iter()
                .filter_map(|c| c[a][m].as_ref())
                .flat_map(|c| c.recall.iter().copied()),
        )
    };
    let per_class = index
        .sorted_categories
        .iter()
        .enumerate()
        .map(|(k, cat)| ClassAp {
            category_id: cat.id,
            name: cat.name.clone(),
            ground_truth: index.boxes[k].iter().flatten().filter(|g| !g.crowd).count(),
            ap: curves[k][0][2]
                .as_ref()
                .and_then(|c| mean_defined(c.precision.iter().flatten().copied())),
        })
        .collect();
    let annotations = index.gt.annotations.len();
    Ok(DetectionMetrics {
        map: ap(None, 0),
        map_50: ap(Some(0), 0),
        map_75: ap(Some(5), 0),
        map_small: ap(None, 1),
        map_medium: ap(None, 2),
        map_large: ap(None, 3),
        mar_1: ar(0, 0),
        mar_10: ar(0, 1),
        mar_100: ar(0, 2),
        mar_small: ar(1, 2),
        mar_medium: ar(2, 2),
        mar_large: ar(3, 2),
        mean_best_iou: (annotations > 0).then(|| best_iou_sum / annotations as f64),
        per_class,
        detections: dets.len(),
    })
}

/// The COCO bounding-box evaluation of one model's detections against the ground truth.
pub fn coco_eval(gt: &CocoGroundTruth, detections: &[CocoDetection]) -> Result<DetectionMetrics> {
    evaluate(&Index::new(gt)?, detections, &DETECTION)
}

/// Scores the teacher's and the student's detections against the ground truth.
///
/// ```
/// use distill_eval_metrics::tasks::detection::{evaluate_detection, CocoDetection, CocoGroundTruth};
///
/// let gt = CocoGroundTruth::from_json(r#"{
///     "images": [{"id": 1}],
///     "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100}],
///     "categories": [{"id": 1, "name": "cat"}]}"#)?;
/// let det = |x: f64| CocoDetection { image_id: 1, category_id: 1, bbox: [x, 0.0, 10.0, 10.0], score: 0.9 };
/// let eval = evaluate_detection(&gt, &[det(0.0)], &[det(4.0)])?;
/// // A perfect match: precision 1 / (1 + eps), as in pycocotools.
/// assert!((eval.teacher.map.unwrap() - 1.0).abs() < 1e-12);
/// assert_eq!(eval.student.map_50, Some(0.0)); // IoU 60 / 140 < 0.5
/// assert_eq!(eval.teacher.map_large, None); // no large objects: pycocotools' -1
/// # Ok::<(), distill_eval_metrics::Error>(())
/// ```
pub fn evaluate_detection(
    gt: &CocoGroundTruth,
    teacher: &[CocoDetection],
    student: &[CocoDetection],
) -> Result<DetectionEvaluation> {
    let index = Index::new(gt)?;
    let t = evaluate(&index, teacher, &labels(Side::Teacher))?;
    let s = evaluate(&index, student, &labels(Side::Student))?;
    Ok(DetectionEvaluation {
        images: gt.images.len(),
        annotations: gt.annotations.len(),
        map_retention: match (s.map, t.map) {
            (Some(s), Some(t)) => retention(s, t),
            _ => None,
        },
        teacher: t,
        student: s,
    })
}

/// Paired bootstrap of the images: each resample draws as many images with replacement
/// (ascending id order, as pycocotools pools them) and recomputes both models' mAP@[.50:.95]
/// with every drawn image counted as often as it was drawn, giving intervals of each model's
/// mAP and of `map_retention`. A category whose drawn images hold no ground truth that counts
/// is left out of that resample's mean, as pycocotools leaves its -1 out.
pub fn bootstrap_map(
    gt: &CocoGroundTruth,
    teacher: &[CocoDetection],
    student: &[CocoDetection],
    thresholds: &Thresholds,
    cfg: &BootstrapConfig,
) -> Result<RetentionBootstrap> {
    let index = Index::new(gt)?;
    let ious = iou_thresholds();
    // units[k][i]: evaluateImg over all areas at 100 detections.
    let units = |dets: &[CocoDetection], side: Side| -> Result<Vec<Vec<Option<ImageEval>>>> {
        let grouped = group(&index, dets, &labels(side))?;
        Ok(grouped
            .iter()
            .zip(&index.boxes)
            .map(|(dets_k, gts_k)| {
                dets_k
                    .iter()
                    .zip(gts_k)
                    .map(|(dts, gts)| {
                        image_evals(gts, dts, &AREA_RANGES[..1], &ious)
                            .and_then(|v| v.into_iter().next())
                    })
                    .collect()
            })
            .collect())
    };
    let (t, s) = (
        units(teacher, Side::Teacher)?,
        units(student, Side::Student)?,
    );
    let rec = recall_thresholds();
    let map_of = |evals: &[Vec<Option<ImageEval>>], w: &[u32]| {
        mean_defined(
            evals
                .iter()
                .filter_map(|per_image| {
                    let present: Vec<(&ImageEval, f64)> = per_image
                        .iter()
                        .zip(w)
                        .filter_map(|(e, &w)| e.as_ref().map(|e| (e, f64::from(w))))
                        .collect();
                    accumulate(&present, MAX_DETS[2], &rec)
                })
                .flat_map(|c| c.precision.into_iter().flatten()),
        )
        .unwrap_or(f64::NAN)
    };
    let figures = |w: &[u32]| (map_of(&t, w), map_of(&s, w));
    retention_bootstrap(
        &RetentionResample {
            unit: "images",
            units: index.images.len(),
            figure: "map",
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

    fn gt(annotations: &[(i64, [f64; 4], bool)]) -> CocoGroundTruth {
        CocoGroundTruth {
            images: vec![1, 2]
                .into_iter()
                .map(|id| CocoImage {
                    id,
                    width: None,
                    height: None,
                    file_name: None,
                })
                .collect(),
            annotations: annotations
                .iter()
                .enumerate()
                .map(|(i, &(image_id, bbox, iscrowd))| CocoAnnotation {
                    id: i as i64 + 1,
                    image_id,
                    category_id: 1,
                    bbox,
                    area: None,
                    iscrowd,
                })
                .collect(),
            categories: vec![CocoCategory {
                id: 1,
                name: "thing".into(),
            }],
        }
    }

    fn det(image_id: i64, bbox: [f64; 4], score: f64) -> CocoDetection {
        CocoDetection {
            image_id,
            category_id: 1,
            bbox,
            score,
        }
    }

    #[test]
    fn thresholds_match_numpy_linspace() {
        let t = iou_thresholds();
        // np.linspace(.5, .95, 10): 0.8999999999999999 at index 8, 0.75 exactly at index 5
        assert_eq!(t[5], 0.75);
        assert_eq!(t[8], 0.8999999999999999);
        assert_eq!(t[9], 0.95);
        let r = recall_thresholds();
        assert_eq!((r[33], r[100]), (0.33, 1.0));
    }

    #[test]
    fn iou_as_pycocotools() {
        let g = [0.0, 0.0, 10.0, 10.0];
        // Half overlap: 50 / (100 + 100 - 50) = 1/3
        assert_eq!(r4(coco_iou(&[5.0, 0.0, 10.0, 10.0], &g, false)), 0.3333);
        // Crowd: intersection / detection area = 50 / 100
        assert_eq!(r4(coco_iou(&[5.0, 0.0, 10.0, 10.0], &g, true)), 0.5);
        // Touching edges do not overlap.
        assert_eq!(coco_iou(&[10.0, 0.0, 5.0, 5.0], &g, false), 0.0);
        assert_eq!(plain_iou(&[0.0, 0.0, 0.0, 0.0], &[0.0, 0.0, 0.0, 0.0]), 0.0);
    }

    #[test]
    fn ap_by_hand() {
        // Two 10x10 boxes (small), in two images. Detections by score: a hit in image 1 (0.9),
        // a miss in image 2 (0.8), a hit in image 2 (0.7).
        let gt = gt(&[
            (1, [0.0, 0.0, 10.0, 10.0], false),
            (2, [0.0, 0.0, 10.0, 10.0], false),
        ]);
        let dets = [
            det(1, [0.0, 0.0, 10.0, 10.0], 0.9),
            det(2, [50.0, 50.0, 10.0, 10.0], 0.8),
            det(2, [0.0, 0.0, 10.0, 10.0], 0.7),
        ];
        let m = coco_eval(&gt, &dets).unwrap();
        // Precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1; interpolated: 1 up to R = 0.5 (51 points)
        // and 2/3 after (50 points): AP = (51 + 50 * 2/3) / 101 = 0.8350 at every IoU.
        assert_eq!(r4(m.map.unwrap()), 0.835);
        assert_eq!(r4(m.map_small.unwrap()), 0.835);
        assert_eq!((m.map_medium, m.map_large), (None, None));
        // One detection per image: image 1 finds its box, image 2's best is the miss: AR 1/2.
        assert_eq!(r4(m.mar_1.unwrap()), 0.5);
        assert_eq!(r4(m.mar_10.unwrap()), 1.0);
        assert_eq!(r4(m.mean_best_iou.unwrap()), 1.0);
        assert_eq!(m.per_class[0].ap, m.map);
    }

    #[test]
    fn crowd_boxes_absorb_detections_without_counting() {
        // A crowd region and a real box; three detections inside the crowd, one on the box.
        let gt = gt(&[
            (1, [0.0, 0.0, 100.0, 100.0], true),
            (1, [200.0, 200.0, 10.0, 10.0], false),
        ]);
        let dets = [
            det(1, [0.0, 0.0, 20.0, 20.0], 0.9),
            det(1, [50.0, 50.0, 20.0, 20.0], 0.8),
            det(1, [200.0, 200.0, 10.0, 10.0], 0.7),
            det(1, [10.0, 60.0, 20.0, 20.0], 0.6),
        ];
        let m = coco_eval(&gt, &dets).unwrap();
        // The crowd-matched detections are ignored: one TP, no FP.
        assert_eq!(r4(m.map.unwrap()), 1.0);
        assert_eq!(m.per_class[0].ground_truth, 1);
        // mean_best_iou counts the crowd box too: (400/10000 + 1) / 2
        assert_eq!(r4(m.mean_best_iou.unwrap()), 0.52);
    }

    #[test]
    fn area_ranges_use_the_annotated_area() {
        let mut g = gt(&[(1, [0.0, 0.0, 100.0, 100.0], false)]);
        g.annotations[0].area = Some(500.0); // a small segment in a large box
        let m = coco_eval(&g, &[det(1, [0.0, 0.0, 100.0, 100.0], 0.5)]).unwrap();
        assert_eq!(m.map_small.map(r4), Some(1.0));
        assert_eq!(m.map_large, None);
        // No detections at all: AP 0 where there is ground truth.
        let m = coco_eval(&g, &[]).unwrap();
        assert_eq!(
            (m.map, m.mar_100, m.mean_best_iou),
            (Some(0.0), Some(0.0), Some(0.0))
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        let g = gt(&[(1, [0.0, 0.0, 10.0, 10.0], false)]);
        let e = |d: CocoDetection| evaluate_detection(&g, &[], &[d]).unwrap_err();
        assert!(matches!(
            e(det(3, [0.0, 0.0, 1.0, 1.0], 0.5)),
            Error::UnknownImage {
                what: "student detection",
                index: 0,
                image_id: 3
            }
        ));
        let mut wrong_class = det(1, [0.0, 0.0, 1.0, 1.0], 0.5);
        wrong_class.category_id = 7;
        assert!(matches!(
            e(wrong_class),
            Error::UnknownCategory { category_id: 7, .. }
        ));
        let err = e(det(1, [10.0, 10.0, -2.0, 5.0], 0.5));
        assert!(matches!(err, Error::NegativeBoxSize { .. }));
        assert!(err
            .to_string()
            .contains("hint: COCO boxes are [x, y, width, height]"));
        assert!(matches!(
            e(det(1, [0.0, 0.0, 1.0, 1.0], f64::NAN)),
            Error::NotFinite { row: 0, .. }
        ));

        let mut dup = g.clone();
        dup.images[1].id = 1;
        assert!(matches!(
            coco_eval(&dup, &[]),
            Err(Error::DuplicateId {
                what: "images",
                id: 1
            })
        ));
        let mut zero = g.clone();
        zero.annotations[0].id = 0;
        assert!(matches!(
            coco_eval(&zero, &[]),
            Err(Error::ZeroAnnotationId { index: 0 })
        ));
        let mut none = g.clone();
        none.images.clear();
        assert!(matches!(coco_eval(&none, &[]), Err(Error::NoInput { .. })));
    }

    #[test]
    fn json_parses_into_typed_structs() {
        let g = CocoGroundTruth::from_json(
            r#"{"images": [{"id": 4, "width": 64, "height": 48, "file_name": "a.jpg", "x": 1}],
                "annotations": [{"id": 9, "image_id": 4, "category_id": 2, "bbox": [1, 2, 3, 4],
                                 "area": 10.5, "iscrowd": 1, "segmentation": []}],
                "categories": [{"id": 2, "name": "dog", "supercategory": "animal"}]}"#,
        )
        .unwrap();
        assert!(g.annotations[0].iscrowd);
        assert_eq!(g.annotations[0].area, Some(10.5));
        let d = parse_detections(
            r#"[{"image_id": 4, "category_id": 2, "bbox": [1, 2, 3, 4], "score": 0.5}]"#,
            Side::Teacher,
        )
        .unwrap();
        assert_eq!(d[0].bbox, [1.0, 2.0, 3.0, 4.0]);
        let err = parse_detections(r#"[{"image_id": 4, "bbox": [1, 2, 3, 4]}]"#, Side::Student)
            .unwrap_err();
        assert!(err
            .to_string()
            .starts_with("cannot read the student detections as COCO JSON"));
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn image_bootstrap_matches_cocoeval_on_the_drawn_images() {
        // Four images with one box each; the teacher finds three, the student two plus a miss.
        let boxes: [[f64; 4]; 4] = [
            [0.0, 0.0, 10.0, 10.0],
            [5.0, 5.0, 20.0, 20.0],
            [0.0, 0.0, 40.0, 40.0],
            [10.0, 10.0, 8.0, 8.0],
        ];
        let shift = |b: [f64; 4], dx: f64| [b[0] + dx, b[1], b[2], b[3]];
        let teacher_dets = |ids: &dyn Fn(usize) -> Vec<i64>| -> Vec<CocoDetection> {
            let mut v = Vec::new();
            for (i, b) in boxes.iter().enumerate().take(3) {
                for id in ids(i) {
                    v.push(det(id, shift(*b, 1.0), 0.9 - 0.1 * i as f64));
                }
            }
            v
        };
        let student_dets = |ids: &dyn Fn(usize) -> Vec<i64>| -> Vec<CocoDetection> {
            let mut v = Vec::new();
            for (i, b) in boxes.iter().enumerate() {
                for id in ids(i) {
                    let dx = if i == 1 { 15.0 } else { 2.0 };
                    v.push(det(id, shift(*b, dx), 0.85 - 0.1 * i as f64));
                }
            }
            v
        };
        let doc = |images: Vec<i64>, annotations: Vec<(i64, [f64; 4])>| CocoGroundTruth {
            images: images
                .into_iter()
                .map(|id| CocoImage {
                    id,
                    width: None,
                    height: None,
                    file_name: None,
                })
                .collect(),
            annotations: annotations
                .iter()
                .enumerate()
                .map(|(i, &(image_id, bbox))| CocoAnnotation {
                    id: i as i64 + 1,
                    image_id,
                    category_id: 1,
                    bbox,
                    area: None,
                    iscrowd: false,
                })
                .collect(),
            categories: vec![CocoCategory {
                id: 1,
                name: "thing".into(),
            }],
        };
        let one = |i: usize| vec![i as i64 + 1];
        let gt = doc(
            (1..=4).collect(),
            (0..4).map(|i| (i as i64 + 1, boxes[i])).collect(),
        );
        let (t, s) = (teacher_dets(&one), student_dets(&one));
        let cfg = BootstrapConfig {
            resamples: 30,
            seed: 8,
            level: 0.95,
        };
        let b = bootstrap_map(&gt, &t, &s, &Thresholds::default(), &cfg).unwrap();
        let e = evaluate_detection(&gt, &t, &s).unwrap();
        assert_eq!((b.unit, b.units), ("images", 4));
        let r = b.retention.unwrap();
        assert!((r.estimate - e.map_retention.unwrap()).abs() < 1e-12);
        assert!((b.student.unwrap().estimate - e.student.map.unwrap()).abs() < 1e-12);
        // Independently: each resample written out as a COCO document whose drawn images are
        // copies with their own ids (copies of an image adjacent, in id order), then COCOeval.
        let mut maps: Vec<f64> = (0..30)
            .map(|i| {
                let w = crate::bootstrap::resample_weights(8, i, 4);
                let ids = |i: usize| -> Vec<i64> {
                    (0..w[i] as i64).map(|c| 10 * (i as i64 + 1) + c).collect()
                };
                let images: Vec<i64> = (0..4).flat_map(ids).collect();
                let annotations = (0..4)
                    .flat_map(|i| ids(i).into_iter().map(move |id| (id, boxes[i])))
                    .collect();
                let gt = doc(images, annotations);
                coco_eval(&gt, &student_dets(&ids))
                    .unwrap()
                    .map
                    .unwrap_or(f64::NAN)
            })
            .collect();
        maps.retain(|m| !m.is_nan());
        maps.sort_by(f64::total_cmp);
        let n = maps.len() as f64 - 1.0;
        let at = |q: f64| {
            let h = n * q;
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(maps.len() - 1);
            maps[lo] + (maps[hi] - maps[lo]) * (h - lo as f64)
        };
        let si = b.student.unwrap();
        assert!((si.lower - at(0.025)).abs() < 1e-9, "{si:?} {maps:?}");
        assert!((si.upper - at(0.975)).abs() < 1e-9, "{si:?} {maps:?}");
        assert!(si.lower < si.upper);
    }
}
