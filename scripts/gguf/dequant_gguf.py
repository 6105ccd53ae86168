# Copied unchanged from the shared conformance set (../shared/conformance/gguf/dequant_gguf.py).
"""Rewrite a GGUF with every tensor dequantized to F32, metadata copied."""
import sys, numpy as np, gguf
src, dst = sys.argv[1], sys.argv[2]
r = gguf.GGUFReader(src)
arch = r.fields["general.architecture"]; arch = bytes(arch.parts[arch.data[0]]).decode()
w = gguf.GGUFWriter(dst, arch)
for k, f in r.fields.items():
    if k.startswith("GGUF.") or k == "general.architecture": continue
    t = f.types[0]
    if t == gguf.GGUFValueType.ARRAY:
        sub = f.types[1]
        if sub == gguf.GGUFValueType.STRING: val = [bytes(f.parts[i]).decode("utf-8", "surrogateescape") for i in f.data]
        else: val = [f.parts[i].tolist()[0] for i in f.data]
        w.add_key_value(k, val, t, sub_type=sub)
    elif t == gguf.GGUFValueType.STRING:
        w.add_key_value(k, bytes(f.parts[f.data[0]]).decode(), t)
    else:
        w.add_key_value(k, f.parts[f.data[0]].tolist()[0], t)
w.add_key_value("general.file_type", 0, gguf.GGUFValueType.UINT32) if False else None
for tn in r.tensors:
    a = gguf.quants.dequantize(tn.data, tn.tensor_type).astype(np.float32)
    shape = list(reversed([int(x) for x in tn.shape]))
    w.add_tensor(tn.name, a.reshape(shape))
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
print("wrote", dst)
