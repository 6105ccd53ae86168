//! `--bootstrap` intervals and `--calibrate` temperature scaling, end to end.

use candle::{Device, Tensor};

use crate::common::{run, s};

/// A small deterministic generator, so the test data does not depend on a crate's RNG.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Writes logits of a calibrated teacher (labels drawn from its softmax), a student with the
/// noisy copy of its logits times `scale` (over-confident for scale > 1), and the labels.
fn write_case(dir: &std::path::Path, n: usize, scale: f32) -> [std::path::PathBuf; 3] {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let c = 3;
    let mut t = Vec::with_capacity(n * c);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let row: Vec<f32> = (0..c).map(|_| (rng.next() * 6.0 - 3.0) as f32).collect();
        let e: Vec<f64> = row.iter().map(|&x| f64::from(x).exp()).collect();
        let total: f64 = e.iter().sum();
        let mut u = rng.next() * total;
        let mut label = c - 1;
        for (k, v) in e.iter().enumerate() {
            if u < *v {
                label = k;
                break;
            }
            u -= v;
        }
        y.push(label as i64);
        t.extend(row);
    }
    // Over- (or under-) confident, with noise that changes some predictions.
    let student: Vec<f32> = t
        .iter()
        .map(|x| x * scale + (rng.next() as f32 - 0.5) * scale)
        .collect();
    let paths = [dir.join("t.npy"), dir.join("s.npy"), dir.join("y.npy")];
    Tensor::from_vec(t, (n, c), &Device::Cpu)
        .unwrap()
        .write_npy(&paths[0])
        .unwrap();
    Tensor::from_vec(student, (n, c), &Device::Cpu)
        .unwrap()
        .write_npy(&paths[1])
        .unwrap();
    Tensor::from_vec(y, n, &Device::Cpu)
        .unwrap()
        .write_npy(&paths[2])
        .unwrap();
    paths
}

fn score(paths: &[std::path::PathBuf; 3], extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "score",
        "--teacher-logits",
        s(&paths[0]),
        "--student-logits",
        s(&paths[1]),
        "--labels",
        s(&paths[2]),
        "--json",
        "-",
    ];
    args.extend_from_slice(extra);
    let r = run(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.json()
}

#[test]
fn bootstrap_intervals_contain_the_estimates_and_follow_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_case(dir.path(), 3000, 1.5);
    let a = score(&paths, &["--seed", "7"]);
    let b = &a["bootstrap"];
    assert_eq!(b["resamples"], 1000, "on by default under 100,000 examples");
    for (key, figure) in [
        ("teacher_accuracy", a["teacher"]["accuracy"].clone()),
        ("student_accuracy", a["student"]["accuracy"].clone()),
        ("accuracy_retention", a["accuracy_retention"].clone()),
        ("kl_divergence", a["kl_divergence"].clone()),
    ] {
        let i = &b[key];
        let (lo, est, hi) = (
            i["lower"].as_f64().unwrap(),
            i["estimate"].as_f64().unwrap(),
            i["upper"].as_f64().unwrap(),
        );
        assert!(lo <= est && est <= hi && lo < hi, "{key}: {i}");
        assert!((est - figure.as_f64().unwrap()).abs() < 1e-12, "{key}");
    }
    let again = score(&paths, &["--seed", "7"]);
    assert_eq!(
        again["bootstrap"], a["bootstrap"],
        "the same seed reproduces"
    );
    let other = score(&paths, &["--seed", "8", "--bootstrap", "200"]);
    assert_eq!(other["bootstrap"]["resamples"], 200);
    assert_ne!(
        other["bootstrap"]["kl_divergence"],
        a["bootstrap"]["kl_divergence"]
    );
    let off = score(&paths, &["--bootstrap", "0"]);
    assert!(off.get("bootstrap").is_none());
}

#[test]
fn calibrate_cools_down_an_over_confident_student() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_case(dir.path(), 4000, 4.0);
    let v = score(&paths, &["--calibrate", "--bootstrap", "0"]);
    let st = &v["calibration"]["student"];
    let t = st["temperature"].as_f64().unwrap();
    assert!(t > 2.5 && t < 6.0, "fitted temperature {t}");
    assert!(st["nll_after"].as_f64().unwrap() < st["nll_before"].as_f64().unwrap());
    assert!(st["ece_after"].as_f64().unwrap() < st["ece_before"].as_f64().unwrap());
    // The calibrated teacher keeps a temperature near 1.
    let tt = v["calibration"]["teacher"]["temperature"].as_f64().unwrap();
    assert!((tt - 1.0).abs() < 0.15, "{tt}");
    // The terminal report shows the fit.
    let r = run(&[
        "score",
        "--teacher-logits",
        s(&paths[0]),
        "--student-logits",
        s(&paths[1]),
        "--labels",
        s(&paths[2]),
        "--calibrate",
    ]);
    assert!(r.stdout.contains("Temperature scaling"), "{}", r.stdout);
    assert!(r.stdout.contains("bootstrap intervals"), "{}", r.stdout);
}
