import numpy as np
import pytest

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

import distill_eval  # noqa: E402
from distill_eval.integrations.transformers import DistillEvalCallback  # noqa: E402


def logits(n=200, c=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, c)).astype(np.float32), rng.integers(0, c, size=n)


def test_compute_metrics_are_the_report_s():
    t, y = logits()
    s = t + np.random.default_rng(1).normal(scale=0.3, size=t.shape).astype(np.float32)
    cb = DistillEvalCallback(t)
    m = cb.compute_metrics((s, y))
    r = distill_eval.score(t, s, y, bootstrap=0)
    assert m["distill_kl"] == r.kl_divergence
    assert m["distill_accuracy"] == r.student.accuracy
    assert m["distill_agreement"] == r.agreement
    assert m["distill_ece"] == r.student.ece
    # A tuple of outputs: the logits come first.
    assert cb.compute_metrics(((s, np.zeros(3)), y))["distill_kl"] == r.kl_divergence


def test_stops_when_kl_rises_while_accuracy_stalls():
    from transformers import TrainerControl, TrainerState

    t, _ = logits()
    y = t.argmax(1)  # the noisier student loses accuracy: it does not gain
    noise = np.random.default_rng(2).normal(size=t.shape).astype(np.float32)
    cb = DistillEvalCallback(t, stop_when_kl_rises=True)
    state, control = TrainerState(), TrainerControl()
    for step, scale in ((100, 0.1), (200, 0.1), (300, 2.0)):
        state.global_step = step
        cb.compute_metrics((t + scale * noise, y))
        cb.on_evaluate(None, state, control)
        assert control.should_training_stop == (step == 300), step
    assert len(cb.flags) == 1 and "from step 200 to 300" in cb.flags[0]


def test_needs_exactly_one_teacher():
    with pytest.raises(distill_eval.DistillEvalError, match="exactly one"):
        DistillEvalCallback()


def test_tiny_trainer_run_logs_the_figures(tmp_path):
    pytest.importorskip("accelerate")
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32, num_labels=3)
    student = BertForSequenceClassification(config)
    teacher = BertForSequenceClassification(config)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1, 50, (48, 8), generator=g)
    labels = torch.randint(0, 3, (48,), generator=g)

    class Data(torch.utils.data.Dataset):
        def __len__(self):
            return len(ids)

        def __getitem__(self, i):
            return {"input_ids": ids[i], "labels": labels[i]}

    calls = []

    def teacher_logits():
        calls.append(1)
        with torch.no_grad():
            return teacher(input_ids=ids).logits.numpy()

    cb = DistillEvalCallback(teacher=teacher_logits)
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=8,
                             per_device_eval_batch_size=16, max_steps=6, eval_strategy="steps",
                             eval_steps=3, logging_steps=3, report_to=[], use_cpu=True,
                             save_strategy="no")
    trainer = Trainer(model=student, args=args, train_dataset=Data(), eval_dataset=Data(),
                      compute_metrics=cb.compute_metrics, callbacks=[cb])
    trainer.train()
    evals = [h for h in trainer.state.log_history if "eval_distill_kl" in h]
    assert len(evals) == 2
    assert calls == [1]  # the teacher ran once
    assert [h["eval_distill_kl"] for h in evals] == [r.kl_divergence for r in cb.reports]
    assert len(cb.history) == 2
