//! Multiple-choice questions for causal LMs, scored as lm-evaluation-harness's `acc` and
//! `acc_norm`: each choice by the summed log-probability of its continuation tokens (the
//! tokens of `question + choice` after those of the question alone), the highest winning
//! (the first on ties); `acc_norm` divides each score by the choice's length in characters.

use std::path::{Path, PathBuf};

use distill_eval_metrics::{mcnemar, McNemar};
use distill_eval_model::Model;
use serde::{Deserialize, Serialize};

use super::pass::{continuation_scores, Continuation};
use crate::engine::pass::PassOptions;
use crate::error::{Error, Result};
use crate::location::Position;

/// One question.
#[derive(Debug, Clone, Deserialize)]
pub struct Question {
    /// The context.
    pub question: String,
    /// The continuations to choose from.
    pub choices: Vec<String>,
    /// Index of the right one.
    pub answer: usize,
    /// Its line in the file.
    #[serde(skip)]
    pub line: u64,
}

/// Reads a JSONL file of questions, checking each.
pub fn read(path: &Path) -> Result<Vec<Question>> {
    let text = crate::input::read_text(path)?;
    let bad = |line: usize, reason: String| Error::BadChoice {
        path: path.to_owned(),
        at: Position::Line(line as u64),
        reason,
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.trim().trim_start_matches('\u{feff}');
        if line.is_empty() {
            continue;
        }
        let mut q: Question =
            serde_json::from_str(line).map_err(|e| bad(line_no, e.to_string()))?;
        q.line = line_no as u64;
        if q.choices.len() < 2 {
            return Err(bad(
                line_no,
                format!("{} choice(s); a question needs at least two", q.choices.len()),
            ));
        }
        if q.answer >= q.choices.len() {
            return Err(bad(
                line_no,
                format!(
                    "answer {} is out of range for {} choices (answers count from 0)",
                    q.answer,
                    q.choices.len()
                ),
            ));
        }
        if let Some(k) = q.choices.iter().position(|c| c.is_empty()) {
            return Err(bad(line_no, format!("choice {k} is empty")));
        }
        out.push(q);
    }
    if out.is_empty() {
        return Err(Error::EmptyData {
            path: path.to_owned(),
        });
    }
    Ok(out)
}

/// One model's answers.
#[derive(Debug, Clone)]
pub struct Answers {
    /// Per question, whether the highest summed log-probability is the right choice.
    pub correct: Vec<bool>,
    /// The same with scores divided by the choice's length in characters.
    pub correct_norm: Vec<bool>,
    /// Seconds the scoring took.
    pub seconds: f64,
}

fn first_max(scores: &[f64]) -> usize {
    let mut best = 0;
    for (i, &s) in scores.iter().enumerate() {
        if s > scores[best] {
            best = i;
        }
    }
    best
}

/// Scores every question with `model` (`path` names the file in errors).
pub fn answer(
    model: &Model,
    questions: &[Question],
    path: &Path,
    pass: &PassOptions,
    role: &str,
) -> Result<Answers> {
    let mut texts: Vec<String> = Vec::new();
    for q in questions {
        texts.push(q.question.clone());
        for c in &q.choices {
            texts.push(format!("{}{}", q.question, c));
        }
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut encoded = model.encode_documents(&refs)?.into_iter();
    let mut items = Vec::new();
    let max_positions = model.lm_max_positions()?;
    for q in questions {
        let context = encoded.next().unwrap_or_default();
        for (ci, _) in q.choices.iter().enumerate() {
            let ids = encoded.next().unwrap_or_default();
            let bad = |reason: String| Error::BadChoice {
                path: path.to_owned(),
                at: Position::Line(q.line),
                reason,
            };
            let from = context.len().max(1);
            if ids.len() <= from {
                return Err(bad(format!(
                    "choice {ci} adds no token after the question's {} tokens",
                    context.len()
                )));
            }
            if ids.len() > max_positions {
                return Err(bad(format!(
                    "question and choice {ci} hold {} tokens, more than the model's {max_positions} positions",
                    ids.len()
                )));
            }
            items.push(Continuation { ids, from });
        }
    }
    let (scores, seconds) = continuation_scores(model, &items, pass, role)?;
    let (mut correct, mut correct_norm) = (Vec::new(), Vec::new());
    let mut at = 0;
    for q in questions {
        let s = &scores[at..at + q.choices.len()];
        at += q.choices.len();
        let norm: Vec<f64> = s
            .iter()
            .zip(&q.choices)
            .map(|(v, c)| v / c.chars().count() as f64)
            .collect();
        correct.push(first_max(s) == q.answer);
        correct_norm.push(first_max(&norm) == q.answer);
    }
    Ok(Answers {
        correct,
        correct_norm,
        seconds,
    })
}

/// Questions whose correctness differs between the models.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Flips {
    /// Right for the teacher, wrong for the student.
    pub correct_to_wrong: u64,
    /// Wrong for the teacher, right for the student.
    pub wrong_to_correct: u64,
    /// Both kinds.
    pub total: u64,
}

/// The multiple-choice section of a report.
#[derive(Debug, Clone, Serialize)]
pub struct MultipleChoice {
    /// The questions file.
    pub file: PathBuf,
    /// Questions scored.
    pub questions: usize,
    /// The teacher's `acc`.
    pub teacher_accuracy: f64,
    /// The student's `acc`.
    pub student_accuracy: f64,
    /// The teacher's `acc_norm`.
    pub teacher_accuracy_norm: f64,
    /// The student's `acc_norm`.
    pub student_accuracy_norm: f64,
    /// student / teacher `acc` (`None` when the teacher gets none right).
    pub accuracy_retention: Option<f64>,
    /// Correctness flips.
    pub flips: Flips,
    /// McNemar's test on the flips.
    pub mcnemar: McNemar,
}

fn share(x: &[bool]) -> f64 {
    x.iter().filter(|&&c| c).count() as f64 / x.len().max(1) as f64
}

impl MultipleChoice {
    /// The section for `teacher`'s and `student`'s answers to the same questions.
    pub fn new(file: &Path, teacher: &Answers, student: &Answers) -> Self {
        let pairs = || teacher.correct.iter().zip(&student.correct);
        let c2w = pairs().filter(|(t, s)| **t && !**s).count() as u64;
        let w2c = pairs().filter(|(t, s)| !**t && **s).count() as u64;
        let (ta, sa) = (share(&teacher.correct), share(&student.correct));
        Self {
            file: file.to_owned(),
            questions: teacher.correct.len(),
            teacher_accuracy: ta,
            student_accuracy: sa,
            teacher_accuracy_norm: share(&teacher.correct_norm),
            student_accuracy_norm: share(&student.correct_norm),
            accuracy_retention: (ta > 0.0).then(|| sa / ta),
            flips: Flips {
                correct_to_wrong: c2w,
                wrong_to_correct: w2c,
                total: c2w + w2c,
            },
            mcnemar: mcnemar(c2w, w2c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(body: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mc.jsonl");
        std::fs::write(&path, body).unwrap();
        (dir, path)
    }

    #[test]
    fn malformed_questions_name_the_line() {
        for (body, expect) in [
            ("{\"question\": \"q\", \"choices\": [\"a\"], \"answer\": 0}\n", "line 1: 1 choice(s)"),
            (
                "\n{\"question\": \"q\", \"choices\": [\"a\", \"b\"], \"answer\": 2}\n",
                "line 2: answer 2 is out of range for 2 choices",
            ),
            ("{\"question\": \"q\", \"choices\": [\"a\", \"b\"]}\n", "line 1: missing field `answer`"),
            ("{\"question\": \"q\", \"choices\": [\"a\", \"\"], \"answer\": 0}\n", "choice 1 is empty"),
        ] {
            let (_d, path) = file(body);
            let err = read(&path).unwrap_err().to_string();
            assert!(err.contains(expect), "{err}");
            assert!(err.contains("mc.jsonl") && err.contains("hint: "), "{err}");
        }
        let (_d, path) = file("\n\n");
        assert!(read(&path).unwrap_err().to_string().contains("holds no rows"));
    }

    #[test]
    fn flips_and_retention() {
        let a = |c: &[bool]| Answers {
            correct: c.to_vec(),
            correct_norm: c.to_vec(),
            seconds: 0.0,
        };
        let t = a(&[true, true, false, true]);
        let s = a(&[true, false, true, false]);
        let mc = MultipleChoice::new(Path::new("x"), &t, &s);
        assert_eq!(mc.flips.correct_to_wrong, 2);
        assert_eq!(mc.flips.wrong_to_correct, 1);
        assert_eq!(mc.accuracy_retention, Some(0.5 / 0.75));
        assert_eq!(first_max(&[1.0, 3.0, 3.0]), 1);
    }
}
