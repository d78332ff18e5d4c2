"""Standard architectures, written as torchvision and the PyTorch tutorials write them, import from torch.fx
and from both of torch's ONNX exporters (the legacy one at opset 17, the default dynamo one) and reproduce
the original within 1e-5: the importers' own verification and a direct comparison on other random inputs."""

import sys
from pathlib import Path

import pytest
import torch

from engine.importers.common import ImportRefused
from engine.importers.onnx_import import import_onnx, verify_import
from engine.importers.torch_import import import_module, verify_module_import

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TOLERANCE = 1e-5
EXPORTERS = ["fx", "torchscript", "dynamo"]


@pytest.fixture(scope="module")
def arch():
    sys.path.insert(0, str(FIXTURES))
    try:
        import architectures

        yield architectures
    finally:
        sys.path.remove(str(FIXTURES))


def trained_looking(module):
    """Non-trivial normalisation statistics and affine weights, so eval mode exercises them."""
    torch.manual_seed(1)
    for layer in module.modules():
        if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm):
            layer.running_mean.uniform_(-0.5, 0.5)
            layer.running_var.uniform_(0.5, 2.0)
        if isinstance(layer, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.LayerNorm)):
            layer.weight.data.uniform_(0.5, 1.5)
            layer.bias.data.uniform_(-0.2, 0.2)
    return module.eval()


def random_inputs(shapes, seed, batch=3):
    torch.manual_seed(seed)
    return [torch.randint(0, 50, (batch, *shape)) if dtype == "int64" else torch.randn(batch, *shape)
            for shape, dtype in shapes]


def as_tuple(outputs):
    return outputs if isinstance(outputs, tuple) else (outputs,)


def import_from(exporter, module, shapes, tmp_path):
    """Import `module` through `exporter`, checked by the importer's own verification."""
    dtypes = [dtype for _, dtype in shapes]
    if exporter == "fx":
        result = import_module(module, [shape for shape, _ in shapes], input_dtypes=dtypes)
        assert verify_module_import(module, result).difference <= TOLERANCE
        return result
    path = tmp_path / f"{type(module).__name__}.onnx"
    example = tuple(random_inputs(shapes, seed=0, batch=2))
    names = [f"input_{i}" for i in range(len(shapes))]
    options = {"external_data": False} if exporter == "dynamo" else {"opset_version": 17}
    torch.onnx.export(module, example, str(path), dynamo=exporter == "dynamo", input_names=names, **options)
    result = import_onnx(path)
    verification = verify_import(path, result)
    assert verification is not None and verification.difference <= TOLERANCE
    return result


def assert_reproduces(module, result, shapes):
    """The imported graph and the original agree on inputs the verification did not use."""
    inputs = random_inputs(shapes, seed=7)
    with torch.no_grad():
        want, got = as_tuple(module(*inputs)), as_tuple(result.compiled.model(*inputs))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, atol=TOLERANCE, rtol=0)


def node_types(result):
    return {node.type for node in result.project.graph.nodes()}


def assert_attention_weights_are_the_modules(module, result):
    """The exporters write attention as MatMul/Softmax with the heads folded into the batch: each one comes back
    as one MultiheadAttention node holding the module's own weights, bit for bit."""
    graph = result.project.graph
    imported = [node.id for node in graph.nodes() if node.type == "MultiheadAttention"]
    originals = [attention_state(layer) for layer in module.modules()]
    originals = [state for state in originals if state]
    assert len(imported) == len(originals)
    order = {node_id: i for i, node_id in enumerate(graph.node_ids())}
    for node_id, state in zip(sorted(imported, key=order.get), originals):
        for name, tensor in state.items():
            assert torch.equal(result.weights[f"{node_id}.{name}"], tensor), (node_id, name)


def attention_state(layer):
    """An attention layer's weights as nn.MultiheadAttention holds them (separate q/k/v layers stacked)."""
    if isinstance(layer, torch.nn.MultiheadAttention):
        return layer.state_dict()
    if not all(hasattr(layer, name) for name in ("query", "key", "value", "out")):
        return None
    parts = (layer.query, layer.key, layer.value)
    return {"in_proj_weight": torch.cat([p.weight for p in parts]).detach(),
            "in_proj_bias": torch.cat([p.bias for p in parts]).detach(),
            "out_proj.weight": layer.out.weight.detach(), "out_proj.bias": layer.out.bias.detach()}


IMAGE = [((3, 16, 16), "float32")]
# model -> (how to build it from the fixtures module, its inputs (shape without the batch, dtype), node types
# every import of it has)
MODELS = {
    "efficientnet_squeeze_excitation": (lambda a: a.EfficientNetSE(), IMAGE, {"Conv2d", "SiLU", "Sigmoid", "Multiply"}),
    "audio_cnn_1d": (lambda a: a.AudioCNN(), [((1, 400), "float32")], {"Conv1d", "MaxPool1d"}),  # legacy folds BN
    "transformer_text_classifier": (lambda a: a.TransformerClassifier(), [((12,), "int64")], {"Embedding"}),
    "vision_transformer": (lambda a: a.VisionTransformer(), IMAGE, {"Conv2d", "Parameter"}),
    "written_out_attention": (lambda a: a.WrittenOutAttentionClassifier(), [((10, 6), "float32")], {"LayerNorm"}),
    "mobilenet_v2": (lambda a: a.MobileNetV2(), IMAGE, {"Conv2d", "ReLU6"}),
    "unet_with_interpolate": (lambda a: a.UNet(), IMAGE, {"Conv2d", "Concat"}),
    "vae_sampling_while_training": (lambda a: a.VAE(sample_in_eval=False), [((20,), "float32")], {"Linear"}),
}


@pytest.mark.parametrize("exporter", EXPORTERS)
@pytest.mark.parametrize("model", MODELS)
def test_architecture_imports_exactly(arch, model, exporter, tmp_path):
    build, shapes, types = MODELS[model]
    torch.manual_seed(0)
    module = trained_looking(build(arch))
    result = import_from(exporter, module, shapes, tmp_path)
    assert_reproduces(module, result, shapes)
    assert types <= node_types(result)
    if exporter != "fx":
        assert_attention_weights_are_the_modules(module, result)


def test_vae_sampling_in_eval_too_imports_as_a_sample_node_from_fx(arch):
    """pytorch/examples' VAE draws noise in eval as well: its reparameterisation becomes one Sample node, which
    draws the same noise in training and passes the mean in eval; the import is checked with the noise at zero
    (and says so), and in training mode, from one seed, the imported graph samples exactly as the module does."""
    torch.manual_seed(0)
    module = arch.VAE(sample_in_eval=True).eval()
    result = import_module(module, [(20,)])
    graph = result.project.graph
    samples = [node for node in graph.nodes() if node.type == "Sample"]
    assert len(samples) == 1 and [v.source for v in graph.in_edges(samples[0].id)] == ["fc21", "fc22"]
    assert "randn" not in " ".join(node.type for node in graph.nodes())
    assert any("is a Sample node" in note and "noise at zero" in note for note in result.notes)
    assert verify_module_import(module, result).difference <= TOLERANCE
    x = torch.randn(3, 20)
    with torch.no_grad():
        result.compiled.model.eval()
        recon, mu, logvar = result.compiled.model(x)
        torch.testing.assert_close(mu, module.fc21(torch.relu(module.fc1(x))), atol=TOLERANCE, rtol=0)
        module.train(), result.compiled.model.train()
        torch.manual_seed(5)
        want = module(x)
        torch.manual_seed(5)
        got = result.compiled.model(x)
        module.eval(), result.compiled.model.eval()
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, atol=TOLERANCE, rtol=0)
    assert not torch.allclose(want[0], recon)  # the training-mode run did sample


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_vae_sampling_in_eval_is_refused_from_onnx(arch, exporter, tmp_path):
    """Exported in eval mode, the noise is a RandomNormalLike node: nothing could check it, so nothing is written."""
    torch.manual_seed(0)
    module = arch.VAE(sample_in_eval=True).eval()
    with pytest.raises(ImportRefused, match="RandomNormalLike") as refusal:
        import_from(exporter, module, [((20,), "float32")], tmp_path)
    assert "Nothing was imported" in str(refusal.value)


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_attention_from_a_dynamic_batch_export(arch, exporter, tmp_path):
    """With the batch left dynamic, the exporters compute the heads' reshapes from the input's shape at run
    time: that shape arithmetic is part of the fused attention too."""
    torch.manual_seed(0)
    module = trained_looking(arch.VisionTransformer())
    path = tmp_path / "vit.onnx"
    options = {"dynamic_shapes": ({0: torch.export.Dim("batch")},), "external_data": False} if exporter == "dynamo" \
        else {"dynamic_axes": {"x": {0: "batch"}}, "output_names": ["y"], "opset_version": 17}
    torch.onnx.export(module, (torch.randn(2, 3, 16, 16),), str(path), dynamo=exporter == "dynamo",
                      input_names=["x"], **options)
    result = import_onnx(path)
    assert verify_import(path, result).difference <= TOLERANCE
    assert_reproduces(module, result, IMAGE)
    assert_attention_weights_are_the_modules(module, result)


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_causal_attention_imports_with_its_mask(arch, exporter, tmp_path):
    """The exporters add the causal mask to the scores (-inf above the diagonal): the attention comes back as one
    MultiheadAttention with causal set, exact."""
    torch.manual_seed(0)
    module = trained_looking(arch.CausalEncoder())
    shapes = [((8, 16), "float32")]
    result = import_from(exporter, module, shapes, tmp_path)
    assert_reproduces(module, result, shapes)
    if exporter != "fx":
        assert_attention_weights_are_the_modules(module, result)
        attention = next(n for n in result.project.graph.nodes() if n.type == "MultiheadAttention")
        assert attention.params.get("causal") is True


@pytest.mark.parametrize("exporter", ["torchscript"])  # torch.export fails on a non-causal mask buffer here
def test_attention_under_another_mask_from_onnx_is_refused_with_the_reason(arch, exporter, tmp_path):
    """A band mask has no MultiheadAttention equivalent, and the heads folded into the batch cannot map op by op:
    the refusal says which attention and why."""
    module = arch.CausalEncoder(band=True).eval()
    with pytest.raises(ImportRefused) as refusal:
        import_from(exporter, module, [((8, 16), "float32")], tmp_path)
    assert "a mask other than a causal one is added to its scores, so it is not one MultiheadAttention" \
        in str(refusal.value) and "Nothing was imported" in str(refusal.value)
