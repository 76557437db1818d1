"""Seed 004's Keras program runs unchanged except for the import line."""

import pathlib
import re

import numpy as np

from cnnlab.data.mnist import load_sample

SEEDS = pathlib.Path(__file__).resolve().parents[3] / "shared" / "seeds"

# The program as seed 004 prints it, with `from cnnlab import keras` replacing the TensorFlow imports.
SEED_004_PROGRAM = """
from cnnlab import keras
import numpy as np

# MNIST 데이터셋 불러오기와 튜플로 변환환
mnist = keras.datasets.mnist
(x_train, y_train), (x_test, y_test) = mnist.load_data()

# 데이터 정규화 (0~255 범위를 0~1로 변환)
x_train, x_test = x_train / 255.0, x_test / 255.0

# 입력 데이터를 CNN에 맞게 차원 추가 (채널 추가)
x_train = x_train.reshape(-1, 28, 28, 1)
x_test = x_test.reshape(-1, 28, 28, 1)

model = keras.Sequential([
    #첫 번째 합성곱 층 (Conv2D) + 활성화 함수 (ReLU)
    keras.layers.Conv2D(32, (3,3), activation='relu', input_shape=(28, 28, 1)),
    keras.layers.MaxPooling2D((2,2)),  # 맥스 풀링(Max Pooling)

    # 두 번째 합성곱 층 (Conv2D) + 활성화 함수 (ReLU)
    keras.layers.Conv2D(64, (3,3), activation='relu'),
    keras.layers.MaxPooling2D((2,2)),  # 다시 맥스 풀링

    keras.layers.Flatten(),  # 2D 데이터를 1D로 변환
    keras.layers.Dense(128, activation='relu'),  # 완전 연결층(Dense Layer)
    keras.layers.Dense(10, activation='softmax')  #  출력층 (10개의 클래스)
])

# 모델 컴파일
model.compile(optimizer='adam',
              loss='sparse_categorical_crossentropy',
              metrics=['accuracy'])

# 모델 구조 확인
model.summary()
"""


def test_program_matches_the_seed_text():
    """The program above is the seed's own code (only the imports differ)."""
    seed = next(SEEDS.glob("004_*.txt"), None)
    if (
        seed is None
    ):  # the seeds live beside the repository; a clone elsewhere has no copy
        return
    text = seed.read_text(encoding="utf-8")
    for line in SEED_004_PROGRAM.strip().splitlines()[2:]:
        assert line.strip() in text, line


def test_seed_004_program_runs_prints_summary_and_trains(tmp_path, monkeypatch, capsys):
    (x_train, y_train), (x_test, y_test) = load_sample()
    np.savez(
        tmp_path / "mnist.npz",
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
    )
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path))
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    monkeypatch.setenv("COLUMNS", "120")
    from cnnlab import keras

    keras.utils.set_random_seed(0)
    keras.backend.clear_session()  # automatic names start at conv2d, as in a fresh program
    namespace = {}
    exec(compile(SEED_004_PROGRAM, "seed_004.py", "exec"), namespace)
    out = capsys.readouterr().out
    assert "Total params: 225,034 (879.04 KB)" in out
    assert re.search(r"│ conv2d \(Conv2D\)\s+│ \(None, 26, 26, 32\)\s+│\s+320 │", out)

    model = namespace["model"]
    before = model.evaluate(namespace["x_test"], y_test, verbose=0)
    history = model.fit(
        namespace["x_train"], y_train, epochs=2, batch_size=32, verbose=0
    )
    after = model.evaluate(namespace["x_test"], y_test, verbose=0)
    assert len(history.history["loss"]) == 2
    assert (
        after[1] > 0.75 > 0.3 > before[1]
    )  # trained: from chance (~10 %) to a working classifier
    assert after[0] < before[0]
