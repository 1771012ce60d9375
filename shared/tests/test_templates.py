from herald_shared.templates import placeholders, render


def test_substitutes_fields() -> None:
    rendered = render("Hi {{name}}, code {{ code }}", {"name": "John", "code": 42})
    assert rendered == "Hi John, code 42"


def test_default_for_missing_or_empty_value() -> None:
    assert render("Hi {{name|there}}!", {}) == "Hi there!"
    assert render("Hi {{name|there}}!", {"name": ""}) == "Hi there!"
    assert render("Hi {{name}}!", {}) == "Hi !"


def test_hostile_templates_evaluate_nothing() -> None:
    fields = {"name": "John"}
    assert render("{{__class__}}{{name.__class__}}", fields) == "{{name.__class__}}"
    assert render("{% for x in y %}{{name}}{% endfor %}", fields) == (
        "{% for x in y %}John{% endfor %}"
    )
    assert render("{{ 7*7 }}", fields) == "{{ 7*7 }}"


def test_placeholders_in_order_of_first_use() -> None:
    assert placeholders("{{b}} {{a|x}} {{b}}") == ["b", "a"]
