"""The words of the explain report, in Korean and English.

The seeds are Korean tutorials; the report should read naturally to a Korean
learner and to an English one. Every entry is a pair ``(korean, english)``;
``{placeholders}`` are filled in (and HTML-escaped) by :mod:`.report`.
"""

from __future__ import annotations

TITLE = ("CNN이 배운 것", "What the CNN learned")

INTRO = (
    "학습된 모델 '{model}'의 속을 층별로 들여다봅니다. 이미지 한 장을 넣고 필터(학습된 가중치), 특징 맵(각 "
    "층의 출력), Grad-CAM(예측의 근거가 된 위치)을 본 다음, 합성곱 한 번을 손으로 계산하듯 따라가 봅니다.",
    "How the trained model '{model}' processes one image, layer by layer: its filters (the learned weights), "
    "its feature maps (each layer's output), Grad-CAM (where the evidence for the prediction lies), and one "
    "convolution worked out by hand.",
)

IMAGE_SOURCE = ("입력 이미지: {source}", "Input image: {source}")

SECTIONS = {
    "prediction": ("예측", "Prediction"),
    "gradcam": ("Grad-CAM: 어디를 보고 판단했나", "Grad-CAM: where the model looked"),
    "shapes": (
        "모양 따라가기: 층마다 크기가 어떻게 바뀌나",
        "Shape walk: how each layer changes the size",
    ),
    "filters": ("필터", "Filters"),
    "feature_maps": ("특징 맵", "Feature maps"),
    "trace": ("합성곱 한 번 따라가기", "One convolution, step by step"),
    "test": ("테스트 데이터에서의 성적", "How it does on the test data"),
    "curves": ("학습 곡선", "Training curves"),
    "glossary": ("용어 풀이", "Glossary"),
}

PREDICTION = (
    "모델의 예측: {predicted} (확률 {probability})",
    "The model predicts {predicted} with probability {probability}.",
)
PREDICTION_LABEL = ("정답: {label}", "The true label is {label}.")
PREDICTION_HOW = (
    "마지막 층의 소프트맥스가 클래스마다 확률을 하나씩 내놓고(모두 더하면 1), 가장 큰 값(argmax)이 예측이 됩니다.",
    "The last layer's softmax gives one probability per class (they add up to 1); the largest one (argmax) is "
    "the prediction.",
)
PROBABILITY_HEAD = (("클래스", "Class"), ("확률", "Probability"))

GRADCAM = (
    "Grad-CAM은 모델이 이미지의 어느 부분을 보고 '{cls}'라고 판단했는지 보여 줍니다. 층 '{layer}'의 특징 맵마다 "
    "클래스 점수(소프트맥스 직전 값)의 기울기를 평균 내어 가중치로 삼고, 특징 맵의 가중합에서 양수인 부분만 "
    "남긴 뒤 입력 크기로 늘립니다. 빨간 곳일수록 근거가 강합니다. 지도는 이 층의 해상도({cam_shape})만큼 "
    "거칩니다.",
    "Grad-CAM shows which part of the image made the model answer '{cls}'. For each feature map of layer "
    "'{layer}', the gradient of the class score (the value before softmax) is averaged into a weight; the "
    "weighted sum of the maps, kept where it is positive, is stretched to the input's size. The redder, the "
    "stronger the evidence. The layer's resolution is {cam_shape}, so the map is that coarse.",
)
GRADCAM_ZERO = (
    "이 층에서는 '{cls}' 쪽 근거가 어디에도 없어서(가중합이 모두 0 이하) 지도가 비어 있습니다.",
    "At this layer no position speaks for '{cls}' (every weighted sum is <= 0), so the map is empty.",
)
GRADCAM_NONE = (
    "이 모델에서는 Grad-CAM을 그릴 수 없습니다: {why}",
    "Grad-CAM is not available for this model: {why}",
)

SHAPES = (
    "출력 크기 = floor((입력 − 커널 + 앞뒤 패딩) / 스트라이드) + 1. 팽창(dilation) d가 있으면 커널 대신 "
    "(k − 1)·d + 1을 씁니다. 각 층의 실제 숫자로 계산했습니다.",
    "Output size = floor((input − kernel + padding before and after) / stride) + 1; with dilation d the kernel "
    "counts as (k − 1)·d + 1. Each row fills in the layer's own numbers.",
)
SHAPES_HEAD = (
    ("층", "Layer"),
    ("입력 → 출력", "Input → output"),
    ("크기 계산", "Size arithmetic"),
    ("파라미터", "Parameters"),
)
SHAPES_TOTAL = ("전체 파라미터 수: {total}", "Total parameters: {total}")
FLATTEN_ORDER = (
    "펼치는 순서: Keras와 cnnlab은 (높이, 너비, 채널) 순서로 한 행씩(row-major) 펼칩니다. 시드 002는 행렬을 열 "
    "단위로 펼치므로, 한쪽 순서로 학습한 Dense 가중치는 다른 쪽 순서에 그대로 맞지 않습니다.",
    "Flattening order: Keras and cnnlab flatten row by row (row-major) over (height, width, channels). Seed 002 "
    "flattens the matrix column by column, so Dense weights learned for one order do not fit the other.",
)

FILTERS = (
    "첫 번째 합성곱 층의 필터는 엣지, 선, 밝기 차이 같은 단순한 패턴을 잡아내고, 깊은 층으로 갈수록 이를 조합한 "
    "복잡한 패턴을 배웁니다. 빨강은 양수, 파랑은 음수 가중치이며 필터마다 자기 최댓값으로 나눠 보여 줍니다. "
    "입력 채널이 여러 개인 층은 채널 평균을 보여 줍니다.",
    "The first convolution's filters pick up simple patterns such as edges, lines and changes of brightness; "
    "deeper layers combine them into more complex ones. Red is a positive weight, blue a negative one, each "
    "filter scaled by its own largest weight. For a layer with several input channels, each picture is the "
    "mean over the channels.",
)
FILTERS_CAPTION = (
    "층 '{layer}': {count}개 필터, 크기 {size}",
    "Layer '{layer}': {count} filters of {size}",
)

FEATURE_MAPS = (
    "특징 맵은 필터 하나가 이미지의 어디에서 강하게 반응했는지 보여 줍니다. 필터 개수만큼 특징 맵이 생기고, "
    "풀링은 맵의 크기를 줄이되 개수(채널 수)는 그대로 둡니다. 맵마다 자기 범위에 맞춰 밝기를 조정했습니다"
    "(밝을수록 강한 반응).",
    "A feature map shows where in the image one filter responded strongly. There are as many feature maps as "
    "filters; pooling shrinks the maps but keeps their number (the channels). Each map is scaled to its own "
    "range (brighter = stronger response).",
)
FEATURE_MAPS_CAPTION = (
    "층 '{layer}' ({kind}): 특징 맵 {count}개, 크기 {size}",
    "Layer '{layer}' ({kind}): {count} feature maps of {size}",
)

TRACE = (
    "필터를 입력 위에 올려놓고 겹치는 칸끼리 곱한 뒤 모두 더하고, 편향을 더하고, 활성화 함수를 거치면 특징 맵의 "
    "한 칸이 됩니다. 아래는 층 '{layer}'에서 가장 강하게 반응한 자리(출력 위치 {position}, 필터 {filter})의 "
    "계산입니다.",
    "Lay the filter on the input, multiply the overlapping cells, add the products up, add the bias and apply "
    "the activation: that is one cell of a feature map. Below is the computation where layer '{layer}' "
    "responded most strongly (output position {position}, filter {filter}).",
)
TRACE_TABLES = (
    ("입력 창", "Input window"),
    ("커널", "Kernel"),
    ("칸별 곱", "Products"),
)
TRACE_RESULT = (
    "곱의 합 {total} + 편향 ({bias}) = {pre}. 활성화 함수 {activation} 적용 후 {value}. 층이 실제로 계산한 "
    "값: {actual} ({verdict}).",
    "Sum of products {total} + bias ({bias}) = {pre}; after the activation {activation}: {value}. The layer "
    "itself computed {actual}: {verdict}.",
)
TRACE_VERDICT = {True: ("일치", "they match"), False: ("불일치", "they differ")}
TRACE_FULL = ("전체 계산 보기", "Show the full arithmetic")
TRACE_NONE = (
    "이 모델에는 합성곱 층이 없습니다.",
    "This model has no convolution layer.",
)

TEST = (
    "테스트 이미지 {count}장에서 정확도는 {accuracy}입니다. 혼동 행렬의 행은 정답, 열은 예측이며, 대각선이 맞힌 "
    "개수입니다. 틀린 예시는 모델이 가장 확신했던 것부터 보여 줍니다.",
    "Accuracy on {count} test images: {accuracy}. In the confusion matrix rows are the true classes, columns the "
    "predictions, and the diagonal holds the correct answers. The misclassified examples come most confident "
    "first.",
)
CURVES = (
    "에폭마다 학습 데이터와 검증 데이터의 손실과 정확도입니다.",
    "Loss and accuracy per epoch, on the training and the validation data.",
)

GLOSSARY = [
    (
        "합성곱",
        "convolution",
        "필터를 입력 위로 옮겨 가며, 겹치는 칸끼리 곱해서 더하는 연산입니다. CNN 층이 실제로 하는 계산은 필터를 "
        "뒤집지 않는 교차상관(cross-correlation)입니다.",
        "Sliding a filter over the input and, at each position, adding up the products of the overlapping cells. "
        "What CNN layers compute is cross-correlation: the filter is not flipped.",
    ),
    (
        "필터",
        "filter (kernel)",
        "합성곱에 쓰는 작은 가중치 묶음입니다. 값은 학습으로 정해지고, 깊이는 입력 채널 수와 같습니다.",
        "The small block of weights a convolution slides over the input; learned in training, as deep as the "
        "input has channels.",
    ),
    (
        "스트라이드",
        "stride",
        "필터가 한 번에 움직이는 칸 수입니다. 2이면 출력이 대략 절반으로 줄어듭니다.",
        "How many cells the filter moves at each step; a stride of 2 roughly halves the output.",
    ),
    (
        "패딩",
        "padding",
        "입력 가장자리에 0을 둘러서 출력 크기를 지키는 방법입니다. 'valid'는 패딩 없음, 'same'은 출력 크기가 "
        "ceil(입력 / 스트라이드)가 되도록 채웁니다.",
        "Zeros around the input's border so that the output keeps its size: 'valid' adds none, 'same' adds enough "
        "for an output of ceil(input / stride).",
    ),
    (
        "풀링",
        "pooling",
        "작은 창마다 최댓값(최대 풀링)이나 평균(평균 풀링)만 남겨 특징 맵을 줄입니다. 학습할 가중치가 없습니다.",
        "Shrinking a feature map by keeping only the maximum (max pooling) or the mean (average pooling) of each "
        "small window. It has no weights to learn.",
    ),
    (
        "특징 맵",
        "feature map",
        "필터 하나를 입력 전체에 적용한 결과입니다. 필터가 찾는 패턴이 있는 곳에서 값이 커집니다.",
        "The output of one filter applied across the whole input; large where the filter's pattern is.",
    ),
    (
        "활성화 함수",
        "activation",
        "합성곱이나 Dense 같은 선형 계산 뒤에 붙여 비선형성을 더하는 함수입니다(ReLU, 소프트맥스 등).",
        "The function after a linear step (convolution, dense) that makes the network non-linear: ReLU, "
        "softmax, ...",
    ),
]
GLOSSARY_HEAD = (("용어", "Term"), ("뜻", "Meaning"))

FOOTER = (
    "cnnlab {version} · 이미지가 모두 이 페이지 안에 들어 있어서 인터넷 없이도 열립니다.",
    "cnnlab {version} · Every image is inside this page, so it opens without a network.",
)

# --------------------------------------------------------------------------- the interactive page
# Labels of the interactive explainer (``explain.interactive``); the page switches between the two.
INTERACTIVE = {
    "title": ("CNN 속 들여다보기", "Inside the CNN"),
    "intro": (
        "모델 '{model}'이 이미지 한 장을 층마다 어떻게 계산하는지 직접 눌러 보며 따라갑니다. 모든 숫자는 cnnlab이 "
        "이 모델로 계산한 값입니다.",
        "Follow, by clicking, how the model '{model}' computes one image layer by layer. Every number is what "
        "cnnlab computed with this model.",
    ),
    "language": ("English", "한국어"),
    "images": ("이미지 고르기", "Choose an image"),
    "label": ("정답", "label"),
    "network": (
        "네트워크: 층마다 출력 모양과 파라미터",
        "The network: each layer's output shape and parameters",
    ),
    "from": ("입력", "from"),
    "params": ("파라미터", "parameters"),
    "maps": (
        "특징 맵: 합성곱 층과 풀링 층의 채널마다 맵 하나. 맵을 누르면 아래에 칸이 나옵니다.",
        "Feature maps: one map per channel of every convolution and pooling layer. Click a map to see its cells.",
    ),
    "cells": (
        "칸을 누르거나, 마우스를 올리거나, 화살표 키로 옮기면 그 칸의 계산이 아래에 나옵니다.",
        "Click a cell, hover over it or move with the arrow keys: its computation appears below.",
    ),
    "depth": ("깊이", "depth"),
    "channel_of": (
        "층 '{layer}', 채널 {channel}",
        "layer '{layer}', channel {channel}",
    ),
    "setup": (
        "스트라이드 {s}, 패딩 '{p}' (앞, 뒤) {pads}, 팽창 {d}",
        "stride {s}, padding '{p}' (before, after) {pads}, dilation {d}",
    ),
    "where": (
        "입력에서 창이 놓인 곳 (회색 테두리 = 패딩)",
        "Where the window lies on the input (grey border = padding)",
    ),
    "pool_window": ("풀링 창 (채널 {channel})", "Pooling window (channel {channel})"),
    "winner": (
        "가장 큰 값은 굵게 표시한 칸입니다(같은 값이 여럿이면 행 우선 순서의 첫 칸). 창 안의 위치:",
        "The largest value is the bold cell (on a tie, the first in row-major order). Its place in the window:",
    ),
    "average": (
        "실제 칸 {n}개의 평균 (패딩은 세지 않음)",
        "The mean of the {n} real cells (padding not counted)",
    ),
    "no_trace": (
        "이 층은 칸별 계산을 보여 주지 않습니다(특징 맵만 보여 줍니다).",
        "This layer shows its maps only, not the arithmetic of a cell.",
    ),
    "dense": ("Dense 층의 출력", "The dense layers' outputs"),
    "cam_class": ("Grad-CAM 클래스", "Grad-CAM class"),
    "cam_none": (
        "이 모델에서는 Grad-CAM을 그릴 수 없습니다.",
        "Grad-CAM is not available for this model.",
    ),
    "cam_zero": (
        "이 층에서는 이 클래스 쪽 근거가 어디에도 없어서 지도가 비어 있습니다.",
        "At this layer no position speaks for this class, so the map is empty.",
    ),
    "cam_layer": ("층 '{layer}'의 Grad-CAM", "Grad-CAM at layer '{layer}'"),
}
