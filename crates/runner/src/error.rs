//! The runner's error type: every failure to read a dataset, a logits file or a labels file, or
//! to write an output, with the file, the place in it and a remedy on a `hint:` line.

use std::path::PathBuf;

use crate::location::{FieldRole, Position};

/// Everything that can go wrong in the runner.
///
/// Messages are lowercase, name the file (and the line, row or field) and end with a `hint:` line
/// saying what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input file does not exist.
    #[error("{} does not exist\nhint: check the path; a relative path is resolved from the current directory", .path.display())]
    NotFound {
        /// The missing file.
        path: PathBuf,
    },

    /// Two outputs of one command name standard output.
    #[error("{} all write to standard output (-), which can take only one of them\nhint: give the others a file name", .flags.join(", "))]
    StdoutTwice {
        /// The flags that name `-`.
        flags: Vec<String>,
    },

    /// Two outputs of one command name the same file.
    #[error("{} both write to {}\nhint: give each output its own file", .flags.join(" and "), .path.display())]
    OutputTwice {
        /// The file.
        path: PathBuf,
        /// The flags that name it.
        flags: Vec<String>,
    },

    /// An output path is one of the command's own inputs (or inside an input folder).
    #[error("{flag} {} would overwrite the input {}\nhint: write the output to another path", .path.display(), .input.display())]
    OutputIsInput {
        /// The output flag.
        flag: String,
        /// The output path.
        path: PathBuf,
        /// The input it names (a file, or the folder it lies in).
        input: PathBuf,
    },

    /// An output path is a directory.
    #[error("{}{} is a directory\nhint: name a file to write, e.g. {}", .flag.is_empty().then(String::new).unwrap_or_else(|| format!("{} ", .flag)), .path.display(), .path.join("report.json").display())]
    OutputIsDirectory {
        /// The output flag (empty when not known).
        flag: String,
        /// The path.
        path: PathBuf,
    },

    /// Standard output could not be written.
    #[error("cannot write to standard output: {source}\nhint: check that whatever reads the output (a pipe, a file, a terminal) is still there and has space")]
    Stdout {
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// A hub dataset address that is not `hf://datasets/ORG/NAME[@REV]`.
    #[error("{spec} is not a valid hub dataset: {reason}\nhint: write hf://datasets/ORG/NAME or hf://datasets/ORG/NAME@REVISION")]
    InvalidDataset {
        /// What the user wrote.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },

    /// An input file exists but could not be read.
    #[error("cannot read {}: {source}\nhint: check that the file is readable and not a directory", .path.display())]
    Read {
        /// The file being read.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// A text file is not valid UTF-8.
    #[error("{}: {position} is not valid UTF-8\nhint: save the file as UTF-8 (for example `iconv -f latin1 -t utf-8 IN > OUT`)", .path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// The first line with invalid bytes.
        position: Position,
    },

    /// An output file could not be written.
    #[error("cannot write {}: {source}\nhint: check that the directory exists, is writable and has free space", .path.display())]
    Write {
        /// The file being written.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// The file extension does not name a format this reader knows.
    #[error("{}: cannot tell the format from the extension {extension:?}; expected {expected}\nhint: rename the file with one of those extensions", .path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// Its extension (empty when it has none).
        extension: String,
        /// The extensions accepted in this place.
        expected: &'static str,
    },

    /// A line (or the whole file) is not valid JSON.
    #[error("{}: {position}: invalid JSON: {source}\nhint: a JSON Lines file holds one complete JSON value per line", .path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// Where the bad JSON starts.
        position: Position,
        /// What the JSON parser said.
        #[source]
        source: serde_json::Error,
    },

    /// A JSON Lines dataset record is not an object.
    #[error("{}: {position}: expected a JSON object but found {found}\nhint: each line of a dataset must be an object such as {{\"text\": \"...\", \"label\": 0}}", .path.display())]
    NotAnObject {
        /// The file.
        path: PathBuf,
        /// The record.
        position: Position,
        /// The kind of JSON value found instead.
        found: &'static str,
    },

    /// A CSV or TSV file could not be parsed (the csv crate names the line).
    #[error("cannot parse {}: {source}\nhint: a CSV/TSV dataset needs a header row and the same number of fields on every row; quote fields that hold the delimiter or a newline", .path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// What the csv reader said, with the record's position.
        #[source]
        source: csv::Error,
    },

    /// A parquet file is corrupt, truncated or uses a layout the reader does not know.
    #[error("cannot read parquet file {}: {source}\nhint: the file may be truncated or not parquet at all; download it again", .path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What the parquet reader said.
        #[source]
        source: parquet::errors::ParquetError,
    },

    /// An explicitly named field is not a column of the dataset.
    #[error("{}: the {role} field {field:?} is not a column; the columns are: {}\nhint: pass one of those names with {}", .path.display(), list(.available), .role.flag())]
    FieldMissing {
        /// The dataset file.
        path: PathBuf,
        /// What the field was meant to hold.
        role: FieldRole,
        /// The name that was asked for.
        field: String,
        /// The columns the dataset has.
        available: Vec<String>,
    },

    /// No column with a conventional name was found for a role.
    #[error("{}: no {role} column found among: {}; looked for: {}\nhint: name the column with {}", .path.display(), list(.available), list(.tried), .role.flag())]
    FieldNotDetected {
        /// The dataset file.
        path: PathBuf,
        /// What the field is meant to hold.
        role: FieldRole,
        /// The conventional names that were tried.
        tried: Vec<String>,
        /// The columns the dataset has.
        available: Vec<String>,
    },

    /// A text or label cell has the wrong kind of value (or none).
    #[error("{}: {position}: the {role} field {field:?} is {found} but must be {expected}\nhint: {}", .path.display(), .role.value_hint())]
    FieldValue {
        /// The dataset file.
        path: PathBuf,
        /// The record.
        position: Position,
        /// What the field holds.
        role: FieldRole,
        /// The column name.
        field: String,
        /// What was found, e.g. `null`, `missing`, `a float (1.5)`.
        found: String,
        /// What was expected, e.g. `a string`.
        expected: &'static str,
    },

    /// A dataset, logits or labels file holds no rows.
    #[error("{} holds no rows\nhint: check that the file is the one you meant and is not empty (or that --limit is not 0)", .path.display())]
    EmptyData {
        /// The file.
        path: PathBuf,
    },

    /// The repository has no parquet files at all.
    #[error("the dataset repository holds no parquet files among its {files} files\nhint: use a dataset with parquet files, or its `refs/convert/parquet` revision")]
    NoParquetFiles {
        /// How many files the repository listing had.
        files: usize,
    },

    /// The requested split does not exist.
    #[error("split {split:?} not found{}; available splits: {}\nhint: choose one of the available splits", .subset.as_ref().map(|s| format!(" in subset {s:?}")).unwrap_or_default(), list(.available))]
    SplitNotFound {
        /// The requested split.
        split: String,
        /// The subset it was looked for in, if any.
        subset: Option<String>,
        /// The splits that exist.
        available: Vec<String>,
    },

    /// The requested subset (configuration) does not exist.
    #[error("subset {subset:?} not found; available subsets: {}\nhint: choose one of the available subsets", list(.available))]
    SubsetNotFound {
        /// The requested subset.
        subset: String,
        /// The subsets that exist.
        available: Vec<String>,
    },

    /// The split exists in several subsets and none was chosen.
    #[error("split {split:?} exists in several subsets: {}\nhint: choose a subset", list(.available))]
    AmbiguousSubset {
        /// The requested split.
        split: String,
        /// The subsets that have it.
        available: Vec<String>,
    },

    /// The file is not a valid `.npy` file (bad magic or header).
    #[error("{} is not a valid npy file: {source}\nhint: write the array with numpy.save (not pickle, np.savez or a raw dump)", .path.display())]
    Npy {
        /// The file.
        path: PathBuf,
        /// What the header parser said.
        #[source]
        source: std::io::Error,
    },

    /// The data section is shorter than the header says.
    #[error("{} is truncated: the header needs {expected} data bytes but the file has {found}\nhint: the file was cut short; write it again", .path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes of data the header promises.
        expected: u64,
        /// Bytes of data present.
        found: u64,
    },

    /// An array has the wrong number of dimensions (or no classes).
    #[error("{}: {what} must have shape {expected} but the array has shape {shape:?}\nhint: save {what} with shape {expected}", .path.display())]
    Shape {
        /// The file.
        path: PathBuf,
        /// `logits` or `labels`.
        what: &'static str,
        /// The accepted shape, in words.
        expected: &'static str,
        /// The shape found.
        shape: Vec<usize>,
    },

    /// An array has an element type the reader does not accept.
    #[error("{}: {what} have dtype {dtype} but must be {expected}\nhint: convert the array, e.g. with numpy's astype, and save it again", .path.display())]
    Dtype {
        /// The file.
        path: PathBuf,
        /// `logits` or `labels`.
        what: &'static str,
        /// The dtype found, as the file spells it.
        dtype: String,
        /// The accepted dtypes.
        expected: &'static str,
    },

    /// Rows of a JSON Lines logits file have different lengths.
    #[error("{}: {position} has {found} values but {first} has {expected}\nhint: every row must hold one logit per class", .path.display())]
    Ragged {
        /// The file.
        path: PathBuf,
        /// The offending row.
        position: Position,
        /// Its length.
        found: usize,
        /// The first row, which set the expected length.
        first: Position,
        /// The first row's length.
        expected: usize,
    },

    /// A row of a JSON Lines logits file is neither an array nor a record with one.
    #[error("{}: {position}: expected a JSON array of numbers but found {found}\nhint: every line must be one row of logits such as [0.1, -2.3] or {{\"logits\": [0.1, -2.3]}}", .path.display())]
    NotAnArray {
        /// The file.
        path: PathBuf,
        /// The row.
        position: Position,
        /// The kind of JSON value found instead.
        found: &'static str,
    },

    /// A logits value is not a number.
    #[error("{}: {position}: value {index} is {found}, not a number\nhint: every row must be a JSON array of numbers such as [0.1, -2.3]", .path.display())]
    NotANumber {
        /// The file.
        path: PathBuf,
        /// The row.
        position: Position,
        /// 0-based index of the value in the row.
        index: usize,
        /// What was found instead.
        found: String,
    },

    /// A label is negative, not an integer, or too large.
    #[error("{}: example {index}{}: label {value} is not a class id\nhint: labels must be integers from 0 to the number of classes minus 1", .path.display(), .position.map(|p| format!(" ({p})")).unwrap_or_default())]
    BadLabel {
        /// The file.
        path: PathBuf,
        /// 0-based example index.
        index: usize,
        /// The place in the file, where a text file has one.
        position: Option<Position>,
        /// The value as written.
        value: String,
    },

    /// A safetensors file could not be parsed.
    #[error("cannot read safetensors file {}: {source}\nhint: the file may be truncated or not safetensors at all; write it again", .path.display())]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// What the safetensors reader said.
        #[source]
        source: safetensors::SafeTensorError,
    },

    /// The named tensor is not in the safetensors file.
    #[error("{}: no tensor named {name:?}; the file holds: {}\nhint: pick a tensor with FILE:NAME", .path.display(), list(.available))]
    TensorNotFound {
        /// The file.
        path: PathBuf,
        /// The requested tensor.
        name: String,
        /// The tensors the file holds.
        available: Vec<String>,
    },

    /// A safetensors file holds several tensors and none is called `logits`.
    #[error("{}: holds {} tensors ({}) and none is named \"logits\"\nhint: pick a tensor with FILE:NAME", .path.display(), .available.len(), list(.available))]
    AmbiguousTensor {
        /// The file.
        path: PathBuf,
        /// The tensors the file holds.
        available: Vec<String>,
    },

    /// Two inputs that must describe the same examples have different row counts.
    #[error("{first} has {first_rows} rows but {second} has {second_rows}\nhint: both must describe the same examples, in the same order")]
    RowCountMismatch {
        /// The first input.
        first: String,
        /// Its rows.
        first_rows: usize,
        /// The second input.
        second: String,
        /// Its rows.
        second_rows: usize,
    },

    /// Teacher and student logits have different numbers of classes.
    #[error("the teacher's logits ({teacher}) have {teacher_classes} classes but the student's ({student}) have {student_classes}\nhint: both models must score the same classes, in the same order")]
    ClassCountMismatch {
        /// The teacher's input.
        teacher: String,
        /// Its classes.
        teacher_classes: usize,
        /// The student's input.
        student: String,
        /// Its classes.
        student_classes: usize,
    },

    /// Logits that are not a matrix.
    #[error("{source_name}: logits must have shape (examples, classes) but have shape {shape:?}\nhint: save a 2-D array, one row per example and one column per class")]
    LogitsRank {
        /// The input.
        source_name: String,
        /// Its shape.
        shape: Vec<usize>,
    },

    /// Nothing to evaluate.
    #[error("{source_name} holds no examples\nhint: evaluate at least one example")]
    NoExamples {
        /// The input.
        source_name: String,
    },

    /// A label id outside `0..num_classes`.
    #[error("{source_name}: {at}: label {label} is not a class id of a {num_classes}-class model\nhint: labels must be integers from 0 to {max}", max = .num_classes.saturating_sub(1))]
    LabelOutOfRange {
        /// The labels' input.
        source_name: String,
        /// Where the label sits in it.
        at: Position,
        /// The label.
        label: i64,
        /// Classes the models score.
        num_classes: usize,
    },

    /// A label name the teacher does not know.
    #[error("{source_name}: {at}: the {field} {label:?} is not one of the teacher's labels ({})\nhint: use the teacher's label names or their ids (0 to {max}), or name another column with --label-field", list(.known), max = .known.len().saturating_sub(1))]
    UnknownLabel {
        /// The dataset.
        source_name: String,
        /// Where the label sits in it.
        at: Position,
        /// The label field.
        field: String,
        /// The label.
        label: String,
        /// The teacher's labels.
        known: Vec<String>,
    },

    /// Teacher and student do not classify into the same classes.
    #[error("the teacher {teacher} has labels [{}] but the student {student} has labels [{}]\nhint: both models must be trained on the same label set (the order may differ: labels are aligned by name)", list(.teacher_labels), list(.student_labels))]
    LabelSetMismatch {
        /// The teacher.
        teacher: String,
        /// Its labels, by id.
        teacher_labels: Vec<String>,
        /// The student.
        student: String,
        /// Its labels, by id.
        student_labels: Vec<String>,
    },

    /// Logits with NaN or infinite values.
    #[error("{source_name}: the {role}'s logits at row {row} are not finite (NaN or infinite)\nhint: check the model or the export for overflow; every logit must be a finite number")]
    NonFinite {
        /// The input holding the logits.
        source_name: String,
        /// `teacher` or `student`.
        role: &'static str,
        /// 0-based row.
        row: usize,
    },

    /// Finite logits that overflow once divided by the temperature.
    #[error("{source_name}: the {role}'s logits at row {row} overflow when divided by the temperature {temperature}\nhint: use a larger --temperature, or rescale the logits (a row's softmax is unchanged by subtracting its maximum)")]
    Overflow {
        /// The input holding the logits.
        source_name: String,
        /// `teacher` or `student`.
        role: &'static str,
        /// 0-based row.
        row: usize,
        /// The temperature.
        temperature: f64,
    },

    /// A `bench` batch whose attention matrices would not fit in memory.
    #[error("a batch of {batch_size} examples of {seq_len} tokens needs more than {} attention entries per head, too many to allocate\nhint: at {seq_len} tokens, use --batch-sizes of at most {largest} (or a smaller --seq-len)", distill_eval_model::MAX_ATTENTION_CELLS)]
    BatchTooLarge {
        /// The batch size asked for.
        batch_size: usize,
        /// Tokens per example.
        seq_len: usize,
        /// The largest batch size that fits at this length.
        largest: usize,
    },

    /// A checkpoint pattern that is not a valid glob.
    #[error("invalid pattern {pattern:?}: {reason}\nhint: quote the pattern so the shell passes it unexpanded, e.g. 'out/checkpoint-*'")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A pattern that matches no checkpoint folder.
    #[error("{pattern:?} matches no checkpoint folder (a folder with a config.json)\nhint: check the pattern, e.g. 'out/checkpoint-*'")]
    NoCheckpoints {
        /// The pattern.
        pattern: String,
    },

    /// A command that runs models got no data.
    #[error("no data given\nhint: pass --data FILE (.jsonl, .csv, .tsv, .parquet) or hf://datasets/ORG/NAME")]
    NoData,

    /// Regression predictions or targets with more than one column.
    #[error("{file} has {columns} columns but regression predictions and targets are one number per example\nhint: save shape (n, 1) (.npy, .safetensors) or JSONL arrays of one number")]
    RegressionShape {
        /// The file.
        file: String,
        /// Its columns.
        columns: usize,
    },

    /// The progress hook of a pass asked it to stop.
    #[error("the {model} pass was stopped by its progress callback: {source}\nhint: the callback raised or returned an error; fix it, or run without it")]
    ProgressStopped {
        /// The role of the model that was running.
        model: String,
        /// What the hook returned.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A family that reads only saved outputs was given a model.
    #[error("the {task} family reads saved outputs only\nhint: use `distill-eval score --task {task}` with saved predictions")]
    SavedOutputsOnly {
        /// The family.
        task: &'static str,
    },

    /// A ranking model that is not a one-output (regression) head.
    #[error("{model} is a {problem_type} head with {num_labels} labels, not a cross-encoder's single relevance score\nhint: report --task ranking reads sequence-classification heads with one output (problem_type regression or num_labels 1); score a classifier's saved scores with score --task ranking")]
    NotReranker {
        /// The model.
        model: String,
        /// Its head's problem type.
        problem_type: String,
        /// Its outputs.
        num_labels: usize,
    },

    /// A relevance grade of a pairs file that is not a number of at least 0.
    #[error("{source_name}: {at}: the relevance in {field:?} is {value}, not a finite number of at least 0\nhint: grade each (query, passage) pair 0 (irrelevant) or more; fix the row or choose the column with --label-field")]
    RelevanceGrade {
        /// The data.
        source_name: String,
        /// Where.
        at: Position,
        /// The relevance column.
        field: String,
        /// What it holds.
        value: String,
    },

    /// A regression target that is not a number.
    #[error("{source_name}: {at}: the target in {field:?} is {value}, not a finite number\nhint: a regression head's labels must be numbers; fix the row or choose the target column with --label-field")]
    RegressionTarget {
        /// The data.
        source_name: String,
        /// Where.
        at: Position,
        /// The label column.
        field: String,
        /// What it holds.
        value: String,
    },

    /// A `.txt` data file given to a classifier.
    #[error("{} is plain text, which is read as one document for causal LMs only\nhint: give a classifier labelled rows (.jsonl, .csv, .tsv or .parquet with a text and a label column)", .path.display())]
    TextNeedsCausalLm {
        /// The file.
        path: PathBuf,
    },

    /// A causal LM compared with a classifier.
    #[error("{lm} is a causal LM ({lm_class}) but {other} is a classifier ({other_class}): token-level figures need two causal LMs\nhint: compare a causal-LM student with a causal-LM teacher, and classifiers with classifiers")]
    MixedTasks {
        /// The causal LM.
        lm: String,
        /// Its class.
        lm_class: String,
        /// The classifier.
        other: String,
        /// Its class.
        other_class: String,
    },

    /// Saved outputs given for a causal LM.
    #[error("{flag} is not read for causal LMs, except a llama.cpp base file as the teacher: token-level figures need both models run over the documents\nhint: pass --teacher and --student checkpoints, or --teacher-logits FILE.kld written by `llama-perplexity --kl-divergence-base`")]
    LmSavedOutputs {
        /// The flag.
        flag: &'static str,
    },

    /// Teacher and student tokenizers differ.
    #[error("{teacher} and {student} have different vocabularies: {difference}\nhint: token-level figures need one tokenizer; distil students with the teacher's tokenizer, or compare models that share it")]
    VocabMismatch {
        /// The teacher.
        teacher: String,
        /// The student.
        student: String,
        /// The first difference, in words.
        difference: String,
    },

    /// Teacher and student LM heads of different widths.
    #[error("{teacher} scores {teacher_width} tokens but {student} scores {student_width}: the logits' widths must agree (padding rows of the LM head included)\nhint: compare models with LM heads of one size")]
    LogitWidthMismatch {
        /// The teacher.
        teacher: String,
        /// Its width.
        teacher_width: usize,
        /// The student.
        student: String,
        /// Its width.
        student_width: usize,
    },

    /// No document has a token to predict.
    #[error("{source_name}: none of its {documents} documents has a token to predict (each needs at least two tokens with the template)\nhint: check the text field (--text-field) and that the documents are not empty")]
    NoTokensToPredict {
        /// The data.
        source_name: String,
        /// Documents read.
        documents: usize,
    },

    /// A malformed multiple-choice question.
    #[error("{}: {at}: {reason}\nhint: each line is a JSON object with `question` (text), `choices` (a list of at least two texts) and `answer` (the index of the right choice)", .path.display())]
    BadChoice {
        /// The file.
        path: PathBuf,
        /// Where.
        at: Position,
        /// What is wrong.
        reason: String,
    },

    /// A llama.cpp base file (`--kl-divergence-base`) that is not one, or is cut short.
    #[error("{}: {reason}\nhint: give the whole file that `llama-perplexity --kl-divergence-base FILE` wrote (it starts with `_logits_`); write it again if it was cut short", .path.display())]
    BadKldFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// An option that a llama.cpp base teacher cannot serve.
    #[error("{} is a llama.cpp base file, and {flag} does not apply: {why}\nhint: leave {flag} out, or pass the base model itself with --teacher", .path.display())]
    KldOption {
        /// The file.
        path: PathBuf,
        /// The flag.
        flag: &'static str,
        /// Why not.
        why: &'static str,
    },

    /// A llama.cpp base file that does not describe the data or the student.
    #[error("{}: {reason}\nhint: the student must read --data as the base model did: pass the text the base was computed on and a student with the base model's tokenizer and vocabulary; --context comes from the file", .path.display())]
    KldMismatch {
        /// The file.
        path: PathBuf,
        /// What disagrees.
        reason: String,
    },

    /// Window length or stride out of range.
    #[error("{reason}\nhint: --context must be between 2 and the model's maximum positions ({max_positions}) and --stride between 1 and --context - 1")]
    BadWindow {
        /// What is wrong.
        reason: String,
        /// The model's maximum positions.
        max_positions: usize,
    },

    /// A line of a task's records file is JSON but not an object.
    #[error("{}: {position}: expected a JSON object\nhint: each line must be one record such as {{\"query\": \"q1\", \"relevance\": 2, \"teacher\": 0.7, \"student\": 0.4}}", .path.display())]
    RecordNotObject {
        /// The file.
        path: PathBuf,
        /// The line.
        position: Position,
    },

    /// A field of a task's record is missing or holds the wrong kind of value.
    #[error("{}: {}: the field {:?} is {} but must be {}\nhint: {}", .0.path.display(), .0.position, .0.field, .0.found, .0.expected, field_hint(.0.flag, &.0.available))]
    RecordField(Box<RecordField>),

    /// A prompt is empty (or only whitespace).
    #[error("{}: {position}: the prompt ({field:?}) is empty\nhint: every row needs a prompt for the models to continue; fix the row, or name the prompt field with --prompt-field", .path.display())]
    EmptyPrompt {
        /// The file.
        path: PathBuf,
        /// The record.
        position: Position,
        /// The field.
        field: String,
    },

    /// A model's text is empty (or only whitespace).
    #[error("{}: {position}: the {role}'s text ({field:?}) is empty\nhint: an empty hypothesis matches nothing and only lowers the scores; fix the generation, or pass --allow-empty-hypotheses to score it as sacrebleu and rouge-score do", .path.display())]
    EmptyHypothesis {
        /// The file.
        path: PathBuf,
        /// The record.
        position: Position,
        /// `teacher` or `student`.
        role: &'static str,
        /// The field.
        field: String,
    },

    /// A statistics error about the contents of one input file.
    #[error("{file}: {source}")]
    InFile {
        /// The file.
        file: String,
        /// What is wrong with it.
        #[source]
        source: Box<distill_eval_metrics::Error>,
    },

    /// A flag given to a family that does not read it, or one it needs and did not get.
    #[error("score --task {task}: {message}\nhint: {hint}")]
    TaskFlags {
        /// The family.
        task: &'static str,
        /// What is wrong.
        message: String,
        /// What to pass instead.
        hint: &'static str,
    },

    /// Saved outputs of several students that `compare` or `track` cannot take.
    #[error("{command} --task {task}: {message}\nhint: {hint}")]
    SavedStudents {
        /// `compare` or `track`.
        command: &'static str,
        /// The family.
        task: &'static str,
        /// What is wrong.
        message: String,
        /// What to pass instead.
        hint: &'static str,
    },

    /// No student to evaluate.
    #[error("no student given\nhint: pass --student (or --checkpoints) at least once")]
    NoStudents,

    /// A checkpoint whose training step cannot be told.
    #[error("{}: cannot tell the training step: no trainer_state.json with global_step and no number in the folder name\nhint: name checkpoint folders like checkpoint-500, as the Trainer does", .path.display())]
    NoStep {
        /// The folder.
        path: PathBuf,
    },

    /// Two checkpoint folders of the same training step.
    #[error("{} and {} are both checkpoints of step {step}\nhint: pass one folder per step (rename one, or fix global_step in its trainer_state.json)", .first.display(), .second.display())]
    DuplicateStep {
        /// The step.
        step: u64,
        /// The first folder.
        first: PathBuf,
        /// The second folder.
        second: PathBuf,
    },

    /// A model failed to load or run (boxed: the model crate's errors are large).
    #[error(transparent)]
    Model(Box<distill_eval_model::Error>),

    /// A statistic could not be computed.
    #[error(transparent)]
    Metrics(#[from] distill_eval_metrics::Error),

    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle::Error),
}

impl From<distill_eval_model::Error> for Error {
    fn from(e: distill_eval_model::Error) -> Self {
        Error::Model(Box::new(e))
    }
}

/// Where each side of an evaluation came from (a file or a model id), so that errors about
/// its rows can name it.
#[derive(Debug, Clone)]
pub struct Origins {
    /// The teacher's file or model id.
    pub teacher: String,
    /// The student's file or model id.
    pub student: String,
    /// The labels' file or dataset.
    pub labels: String,
}

/// What is wrong with a field of a task's record (boxed in [`Error::RecordField`] to keep the
/// error small).
#[derive(Debug)]
pub struct RecordField {
    /// The file.
    pub path: PathBuf,
    /// The record.
    pub position: Position,
    /// The field's name.
    pub field: String,
    /// What it holds.
    pub found: String,
    /// What it must hold.
    pub expected: &'static str,
    /// The flag that names another field.
    pub flag: &'static str,
    /// The record's fields, when the field is missing from it.
    pub available: Vec<String>,
}

/// The runner's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Names the input a metrics error is about: a non-finite row names the teacher's or the
    /// student's file or model; everything else is passed through.
    pub(crate) fn from_metrics(e: distill_eval_metrics::Error, origins: &Origins) -> Self {
        use distill_eval_metrics::{Error as M, Side};
        // The input and role a per-side error is about.
        let named = |side: Side| match side {
            Side::Teacher => (origins.teacher.clone(), "teacher"),
            _ => (origins.student.clone(), "student"),
        };
        match e {
            M::NonFinite { side, row } => {
                let (source_name, role) = named(side);
                Error::NonFinite {
                    source_name,
                    role,
                    row,
                }
            }
            M::Overflow {
                side,
                row,
                temperature,
            } => {
                let (source_name, role) = named(side);
                Error::Overflow {
                    source_name,
                    role,
                    row,
                    temperature,
                }
            }
            M::LabelOutOfRange {
                row,
                label,
                num_classes,
            } => Error::LabelOutOfRange {
                source_name: origins.labels.clone(),
                at: Position::Example(row as u64),
                label,
                num_classes,
            },
            other => Error::Metrics(other),
        }
    }

    /// Maps an error from reading line `line` (1-based) of a text input: invalid UTF-8 names the
    /// line.
    pub(crate) fn read_line(
        path: impl Into<PathBuf>,
        line: u64,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| {
            if source.kind() == std::io::ErrorKind::InvalidData {
                Self::NotUtf8 {
                    path,
                    position: Position::Line(line),
                }
            } else {
                Self::read(path)(source)
            }
        }
    }

    /// Maps an error from opening or reading an input file: a missing file gets its own variant.
    pub(crate) fn read(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                Self::NotFound { path }
            } else {
                Self::Read { path, source }
            }
        }
    }
}

/// The hint of a bad record field: the flag that renames it, and the fields there are.
fn field_hint(flag: &str, available: &[String]) -> String {
    if available.is_empty() {
        format!("fix the value, or name another field with {flag}")
    } else {
        format!(
            "the record has the fields {}; name another with {flag}",
            list(available)
        )
    }
}

/// Names joined for a message, or `nothing` when there are none.
fn list(names: &[String]) -> String {
    if names.is_empty() {
        "nothing".to_owned()
    } else {
        names.join(", ")
    }
}
