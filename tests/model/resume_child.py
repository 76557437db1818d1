"""A training run for the kill test (tests/model/test_resume.py), run as a child process.

    python resume_child.py BACKUP_DIR OUT_FILE [--backup-every N]

Trains a small CNN (with Dropout, so random state matters) on a slice of the MNIST
sample bundled with cnnlab, with ``keras.callbacks.BackupAndRestore(BACKUP_DIR)``,
printing ``step <global step>`` after every batch once the backup of that batch has
been written. At the end it writes the final weights to OUT_FILE (safetensors). The
parent kills it with SIGKILL after reading some step and starts it again.
"""

import sys

import numpy as np


def main(argv):
    backup_dir, out = argv[0], argv[1]
    every = (
        int(argv[argv.index("--backup-every") + 1]) if "--backup-every" in argv else 1
    )

    from safetensors.numpy import save_file

    from cnnlab import keras
    from cnnlab.data import mnist
    from cnnlab.layers import clear_session

    keras.utils.set_random_seed(7)
    clear_session()
    (x, y), _ = mnist.load_sample()
    x = x[:384, :, :, None].astype("float32") / 255
    y = y[:384]
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(6, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.25),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    steps = {"n": 0}

    def report(batch, logs):
        steps["n"] += 1
        print(f"step {steps['n']}", flush=True)

    backup = keras.callbacks.BackupAndRestore(backup_dir, save_freq=every)

    def resumed(logs=None):
        point = backup.restored_from
        if point is not None:
            steps["n"] = point.epoch * 20 + point.step  # 20 batches per epoch below
            print(f"resumed {point.epoch} {point.step}", flush=True)

    history = model.fit(
        x,
        y,
        batch_size=16,
        epochs=3,
        verbose=0,
        validation_split=1 / 6,
        callbacks=[
            backup,
            keras.callbacks.LambdaCallback(
                on_train_begin=resumed, on_train_batch_end=report
            ),
        ],
    )
    save_file(
        {f"{i}": np.ascontiguousarray(w) for i, w in enumerate(model.get_weights())},
        out,
    )
    print(
        "loss " + " ".join(float(v).hex() for v in history.history["loss"]), flush=True
    )
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
