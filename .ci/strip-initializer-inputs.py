"""Remove a model's initializers from its graph inputs.

Old exporters list every weight as a graph input too. ONNX Runtime must then treat the
weights as overridable and cannot fold them as constants; without them in the inputs
SFace runs about 1.4x faster. The weights themselves are unchanged.
Usage: strip-initializer-inputs.py IN.onnx OUT.onnx
"""
import sys

import onnx

model = onnx.load(sys.argv[1])
weights = {init.name for init in model.graph.initializer}
inputs = [i for i in model.graph.input if i.name not in weights]
removed = len(model.graph.input) - len(inputs)
del model.graph.input[:]
model.graph.input.extend(inputs)
onnx.checker.check_model(model)
onnx.save(model, sys.argv[2])
print(f"strip-initializer-inputs: {removed} initializer inputs removed, inputs now {[i.name for i in inputs]}")
