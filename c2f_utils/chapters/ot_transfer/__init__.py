"""Chapter "Representation transfer by optimal transport" (Li et al., arXiv:2007.06737).

Quick profile on scikit-learn's digits. Table 1 (:class:`Finetune`): the MLP pretrained on the
digits 0-4 (:class:`Reference`) is fine-tuned on the digits 5-9 from a few labels per class,
regularized towards its start (none, L2, L2-SP, :math:`\\Omega_{I,U,P}`), the strength chosen on
validation (:func:`select_best`); Figures 2-3 from the same runs. Table 2 (:class:`Compress`): a
wide teacher is transferred to two students with :math:`\\Omega_{U,I,P}` or distillation. §4:
:class:`Cost`.

Real profile on CIFAR-10 (the offline JPEG copy, ``cifar10_jpeg``): a LeNet-5 source trained on
the classes 0-4 fine-tuned on 100 images per class of the classes 5-9 (500 more for validation,
their 5,000 test images for testing); Table 2 with a ResNet-8 teacher and LeNet-5 students.

Paper profile (App. A). Table 1 on FGVC-Aircraft (:mod:`c2f_utils.data.fgvc`, torchvision's
format, downloaded when online): torchvision's ImageNet ResNet-101 (:func:`imagenet_resnet101`,
weights read by :func:`c2f_utils.weights.load_weights`, SHA-256 checked) fine-tuned with SGD
(momentum 0.9, batch 64, learning rate divided by 10 after two thirds of the epochs) on random
224 x 224 crops and mirrors of 256 x 256 images, evaluated on the central crop; :math:`\\Omega_P`
uses the proximal solver (IPOT, as the paper; ``solver``). Table 2 on CIFAR-10 with the CIFAR ResNets of
:func:`c2f_utils.models.cifar_resnet`: ResNet-56 (``"M"``) and ResNet-56 at half width (``"S"``)
students, and a ResNet-110 teacher, the deepest CIFAR ResNet of He et al. (2016a) that trains
better than the shallower ones, standing in for the paper's ResNet-1001 (pre-activation
bottlenecks) and WRN-28-10, which :mod:`c2f_utils.models` does not provide; SGD at 0.1 divided
by 10 at 50% and 75% of the epochs, weight decay 1e-4, batch 64, padded crops and mirrors.
Deviations: the intermediate layer (``intermediate``) shares the penultimate layer's strength,
no random blur, one central test crop instead of ten, CIFAR-10 only.

Modules: :mod:`~c2f_utils.chapters.ot_transfer.networks` (names, networks, data),
:mod:`~c2f_utils.chapters.ot_transfer.penalties` (each method's penalty, :data:`PENALTIES`),
:mod:`~c2f_utils.chapters.ot_transfer.transfer` (:class:`Reference`, :class:`Finetune`),
:mod:`~c2f_utils.chapters.ot_transfer.compression` (:class:`Compress`, :class:`Cost`),
:mod:`~c2f_utils.chapters.ot_transfer.experiments` (the profiles, :data:`CHAPTER`),
:mod:`~c2f_utils.chapters.ot_transfer.report` (tables, figures) and
:mod:`~c2f_utils.chapters.ot_transfer.verdicts` (validity, scorecard).
"""

from .compression import Compress, CompressionData, Cost
from .experiments import CHAPTER
from .networks import (
    CNN_DATA,
    CNN_LAYERS,
    CNN_NETWORKS,
    COMPRESSION_METHODS,
    DIGIT_INPUTS,
    LABELS,
    LAYERS,
    NETWORKS,
    RESNET_LAYERS,
    SOURCE,
    TARGET,
    TRAINED_SOURCES,
    TRANSFER_METHODS,
    imagenet_resnet101,
    make_model,
)
from .penalties import PENALTIES, penalty
from .report import (
    BENCHMARK,
    COMPRESS_GRIDS,
    PAPER_D,
    accuracy_table,
    benchmark_tables,
    compression_table,
    cost_tables,
    depth_figure,
    permutation_demo,
    plot_depth_traces,
    plot_solver_times,
    plot_training_traces,
    select_best,
    solver_summary,
    teacher_table,
    trace_table,
    training_trace_figure,
    transfer_results,
    transfer_table,
)
from .transfer import Finetune, Reference, TransferData
from .verdicts import (
    COMPRESS_CHECKS,
    LEAVES_IDENTITY,
    MAJORITY,
    TRANSFER_CHECKS,
    benchmark_claims,
    card,
    claim_rows,
    scorecard,
    validity,
)

__all__ = [
    "BENCHMARK",
    "CHAPTER",
    "CNN_DATA",
    "CNN_LAYERS",
    "CNN_NETWORKS",
    "COMPRESSION_METHODS",
    "COMPRESS_CHECKS",
    "COMPRESS_GRIDS",
    "DIGIT_INPUTS",
    "LABELS",
    "LAYERS",
    "LEAVES_IDENTITY",
    "MAJORITY",
    "NETWORKS",
    "PAPER_D",
    "PENALTIES",
    "RESNET_LAYERS",
    "SOURCE",
    "TARGET",
    "TRAINED_SOURCES",
    "TRANSFER_CHECKS",
    "TRANSFER_METHODS",
    "Compress",
    "CompressionData",
    "Cost",
    "Finetune",
    "Reference",
    "TransferData",
    "accuracy_table",
    "benchmark_claims",
    "benchmark_tables",
    "card",
    "claim_rows",
    "compression_table",
    "cost_tables",
    "depth_figure",
    "imagenet_resnet101",
    "make_model",
    "penalty",
    "permutation_demo",
    "plot_depth_traces",
    "plot_solver_times",
    "plot_training_traces",
    "scorecard",
    "select_best",
    "solver_summary",
    "teacher_table",
    "trace_table",
    "training_trace_figure",
    "transfer_results",
    "transfer_table",
    "validity",
]
