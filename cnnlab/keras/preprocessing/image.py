"""``keras.preprocessing.image``: ``load_img``, ``img_to_array``, ``array_to_img``,
``save_img`` and ``smart_resize``, the same functions as ``keras.utils``'s."""

from ...data.images import array_to_img, img_to_array, load_img, save_img, smart_resize
