from __future__ import annotations

import pytest
from holo_helpers import random_spots


@pytest.fixture
def spots128():
    return random_spots(128, 20, seed=0)
