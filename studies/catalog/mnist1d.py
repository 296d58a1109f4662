"""MNIST-1D baselines: do logistic regression, an MLP and a CNN reproduce the paper's table,
and does shuffling the sequence hurt only the model with a spatial prior?

Greydanus (2020), "Scaling Down Deep Learning" (abstract) and the table of the mnist1d
repository's README: on MNIST-1D (4000 train, 1000 test, 40 positions, 10 classes) logistic
regression reaches about 32 % test accuracy, an MLP about 68 % and a CNN about 94 %.
Shuffling the 40 positions by one fixed permutation (shuffle_seq=True, as in Zhang et al.
2017) leaves the permutation-invariant models where they were and drops the CNN to about
56 %, because its convolutions assume neighbouring positions are related.

Models and training follow the paper's code, except that the repository's MLP adds a residual
connection around its second layer, left out here: MLP 40-100-100-10 with ReLU; CNN of three
Conv1d layers with 25 channels (kernel 5 stride 2 padding 1, then kernel 3 stride 2
padding 1 twice) and ReLU, flattened (25 x 5 = 125) into a Dense layer to 10 classes; Adam
with learning rate 1e-2, batch 100, 6000 steps (150 epochs; the repository's train.py
defaults to 8000); PyTorch's default layer
initialisation (init="standard", U[-1/sqrt(fan_in), 1/sqrt(fan_in)]). The data set is
generated once, as in the paper (generator seed 42), without further scaling; a trial's seed
draws its own stratified 4000 / 1000 train/test split of those 5000 samples (the same rows
for the original and the shuffled sequences), the weights and the batch order, all shared by
the arms of that seed. Seeds are added while a claim is undecided, with Pocock-type
boundaries (the paper's gaps are large and the CNN is the costliest trial of the catalogue,
so the design may stop at the first look). The curves are on the
test set, as in the paper: nothing is tuned here.
"""

from __future__ import annotations

from studies.catalog._mnist1d import PUBLISHED, TOLERANCE, matches_published, trial
from studies.engine.claims import paired_equivalence, paired_gap
from studies.engine.spec import Arm, Claim, Plot, Study
from studies.stats import SequentialDesign


def shuffle_harmless(model: str, margin: float = 0.03):
    """Evaluator of "shuffling moves ``model`` by less than ``margin``": per seed, the test
    accuracy on the original minus on the shuffled sequences, claimed within ±``margin``."""
    return paired_equivalence("final_test_acc", model, f"{model}_shuffled", margin=margin)


def _arm(model: str, shuffled: bool) -> Arm:
    return Arm(
        overrides={"model": model, "shuffle_seq": shuffled},
        factors={"model": model, "sequence": "shuffled" if shuffled else "original"},
    )


#: Where the published accuracies come from (read: the paper's abstract, the repository's
#: README and code at github.com/greydanus/mnist1d).
SOURCE = (
    "Greydanus 2020, 'Scaling down deep learning' (arXiv:2011.14439), abstract: linear, "
    "nonlinear and convolutional models reach 32, 68 and 94% test accuracy; the same "
    "numbers in the mnist1d repository README's table 'Comparing MNIST and MNIST-1D'"
)
SETTING = (
    "MNIST-1D, 4000 train / 1000 test sequences of length 40, 10 classes; logistic "
    "regression, an MLP (two ReLU hidden layers, the second residual) and a CNN (three "
    "Conv1d layers of 25 channels); Adam lr 1e-2, batch 100 (repository train.py)"
)
SHUFFLE_SOURCE = (
    "Greydanus 2020, mnist1d repository README, table 'Comparing MNIST and MNIST-1D', row "
    "'MNIST-1D (shuffle)': logistic 32%, MLP 68%, CNN 56% (94% unshuffled)"
)
SHUFFLE_SETTING = (
    f"{SETTING}; the 40 positions shuffled by one fixed permutation, as in Zhang et al. 2017"
)

#: Which way each summary figure is better.
METRICS = {
    "final_test_acc": "higher",
    "final_test_loss": "lower",
    "final_train_acc": "higher",
    "best_test_acc": "higher",
    "train_time": "lower",
}

#: Pocock-type spending: the paper's gaps are tens of points and a CNN trial costs ~12 s, so
#: a design that can stop at the first look when the effect is that large saves most of the
#: cost; both spending rules hold each wrong verdict at alpha (studies.stats.sequential).
DESIGN = SequentialDesign(looks=(5, 10, 15, 20), spending="pocock")

STUDY = Study(
    name="mnist1d",
    metrics=METRICS,
    design=DESIGN,
    question=(
        "Do logistic regression, an MLP and a CNN trained in NumPy reproduce the MNIST-1D "
        "paper's test accuracies (32 %, 68 %, 94 %), and does shuffling the sequence hurt "
        "only the CNN?"
    ),
    description=__doc__,
    data="MNIST-1D (mnist1d package, generated offline once, generator seed 42): 5000 "
    "samples of length 40, 10 classes, split per seed into 4000 train / 1000 test "
    "(stratified; the paper uses the package's one split); original and shuffled-sequence "
    "variants of the same rows",
    base_config={
        "model": "mlp",
        "shuffle_seq": False,
        "data": {"seed": 42},
        "lr": 1e-2,
        "batch_size": 100,
        "epochs": 150,
    },
    arms={
        f"{model}{'_shuffled' if shuffled else ''}": _arm(model, shuffled)
        for model in ("logistic", "mlp", "cnn")
        for shuffled in (False, True)
    },
    quick={"epochs": 8},
    quick_seeds=2,
    trial=trial,
    claims=[
        Claim(
            "logistic_matches_paper",
            f"Logistic regression reaches the paper's {PUBLISHED['logistic']:.0%} test "
            f"accuracy (± {TOLERANCE:.0%}).",
            f"per seed, the final test accuracy minus the published {PUBLISHED['logistic']:g}, "
            f"claimed within ±{TOLERANCE:g}",
            matches_published("logistic", published=PUBLISHED["logistic"]),
            expected="supported",
            source=SOURCE,
            setting=SETTING,
        ),
        Claim(
            "mlp_matches_paper",
            f"The MLP reaches the paper's {PUBLISHED['mlp']:.0%} test accuracy "
            f"(± {TOLERANCE:.0%}).",
            f"per seed, the final test accuracy minus the published {PUBLISHED['mlp']:g}, "
            f"claimed within ±{TOLERANCE:g}",
            matches_published("mlp", published=PUBLISHED["mlp"]),
            expected="supported",
            source=SOURCE,
            setting=SETTING,
        ),
        Claim(
            "cnn_matches_paper",
            f"The CNN reaches the paper's {PUBLISHED['cnn']:.0%} test accuracy "
            f"(± {TOLERANCE:.0%}).",
            f"per seed, the final test accuracy minus the published {PUBLISHED['cnn']:g}, "
            f"claimed within ±{TOLERANCE:g}",
            matches_published("cnn", published=PUBLISHED["cnn"]),
            expected="supported",
            source=SOURCE,
            setting=SETTING,
        ),
        Claim(
            "shuffle_hurts_cnn",
            "Shuffling the sequence costs the CNN at least 20 points of test accuracy "
            "(paper: 94 % -> 56 %).",
            "per seed, the CNN's test accuracy on the original minus on the shuffled "
            "sequences, claimed above 0.20",
            paired_gap("final_test_acc", "cnn", "cnn_shuffled", threshold=0.20),
            expected="supported",
            source=SHUFFLE_SOURCE,
            setting=SHUFFLE_SETTING,
        ),
        Claim(
            "shuffle_harmless_logistic",
            "Shuffling the sequence moves logistic regression by less than 3 points.",
            "per seed, test accuracy on the original minus on the shuffled sequences, "
            "claimed within ±0.03",
            shuffle_harmless("logistic"),
            expected="supported",
            source=SHUFFLE_SOURCE,
            setting=SHUFFLE_SETTING,
        ),
        Claim(
            "shuffle_harmless_mlp",
            "Shuffling the sequence moves the MLP by less than 3 points.",
            "per seed, test accuracy on the original minus on the shuffled sequences, "
            "claimed within ±0.03",
            shuffle_harmless("mlp"),
            expected="supported",
            source=SHUFFLE_SOURCE,
            setting=SHUFFLE_SETTING,
        ),
    ],
    plots=[
        Plot(
            "final_metric",
            "Final test accuracy per arm (paper: logistic 0.32, MLP 0.68, "
            "CNN 0.94, shuffled CNN 0.56)",
            metric="final_test_acc",
        ),
        Plot("learning_curves", "Test accuracy over training", metric="test_acc"),
        Plot("learning_curves", "Training loss", metric="train_loss", log_y=True),
        Plot(
            "heatmap",
            "Mean test accuracy: model x sequence order",
            row="model",
            col="sequence",
            metric="final_test_acc",
        ),
    ],
)
