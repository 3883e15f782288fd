"""pipeline.identity.texts: strings kept in one buffer come back as they went in."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipeline.identity.texts import Texts


@given(st.lists(st.text(), max_size=30), st.data())
def test_strings_come_back_replaced_or_dropped(texts: list[str], data: st.DataObject) -> None:
    column, model = Texts(), list[str | None]()
    for text in texts:
        column.append(text)
        model.append(text)
    for i in data.draw(st.lists(st.integers(0, max(len(texts) - 1, 0)), max_size=5)) if texts else []:
        if data.draw(st.booleans()):
            column[i] = model[i] = data.draw(st.text())
        else:
            column.drop(i)
            model[i] = None
    assert len(column) == len(model)
    assert [column[i] for i in range(len(column))] == model
    assert [column.live(i) for i in range(len(column))] == [text is not None for text in model]
