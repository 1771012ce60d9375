import pytest

from herald_core.templates import (
    BODY_TOO_LONG,
    INVALID_TEMPLATE,
    WHATSAPP_MAX_BODY,
    BodyTooLong,
    MalformedPlaceholder,
    TemplateError,
    check_message_body,
    check_placeholders,
    fits_whatsapp,
    placeholders,
    render,
    template_fields,
)


def test_substitutes_fields() -> None:
    rendered = render("Hi {{name}}, code {{ code }}", {"name": "John", "code": 42})
    assert rendered == "Hi John, code 42"


def test_custom_fields_and_phone() -> None:
    fields = template_fields("+919876543210", "Asha", {"city": "Pune"})
    assert render("{{name}} in {{city}} ({{phone}})", fields) == "Asha in Pune (+919876543210)"


def test_default_for_missing_or_empty_value() -> None:
    assert render("Hi {{name|there}}!", {}) == "Hi there!"
    assert render("Hi {{name|there}}!", {"name": ""}) == "Hi there!"
    assert render("Hi {{name|there}}!", {"name": None}) == "Hi there!"
    assert render("Hi {{ name | dear friend }}!", {}) == "Hi dear friend!"
    assert render("Hi {{name}}!", {}) == "Hi !"
    assert render("Hi {{name|there}}!", {"name": "Ravi"}) == "Hi Ravi!"


def test_names_are_exact() -> None:
    assert render("{{Name|x}} {{name}}", {"name": "a"}) == "x a"


def test_a_value_is_not_rendered_again() -> None:
    assert render("Hi {{name}}", {"name": "{{secret}}", "secret": "s3cret"}) == "Hi {{secret}}"


def test_name_and_phone_win_over_custom_fields_of_the_same_name() -> None:
    fields = template_fields("+14155550100", None, {"name": "custom", "phone": "0", "city": "SF"})
    assert fields == {"name": None, "phone": "+14155550100", "city": "SF"}
    assert render("{{name|there}}", fields) == "there"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{__class__}}", ""),
        ("{{name.__class__}}", "{{name.__class__}}"),
        ("{{ ''.__class__ }}", "{{ ''.__class__ }}"),
        ("{{ name.__class__.__mro__ }}", "{{ name.__class__.__mro__ }}"),
        ("{% import os %}{{name}}", "{% import os %}John"),
        ("{% for x in y %}{{name}}{% endfor %}", "{% for x in y %}John{% endfor %}"),
        ("{{ 7*7 }}", "{{ 7*7 }}"),
        ("{{name|{{x}}}}", "{{name|}}"),
        ("{{ __import__('os').system('id') }}", "{{ __import__('os').system('id') }}"),
        ("{{name!r}} {{name:>10}}", "{{name!r}} {{name:>10}}"),
        ("${name} %(name)s {name}", "${name} %(name)s {name}"),
    ],
)
def test_hostile_templates_evaluate_nothing(template: str, expected: str) -> None:
    assert render(template, {"name": "John"}) == expected


def test_hostile_templates_are_refused_at_creation() -> None:
    for template in [
        "{{name.__class__}}",
        "{{ ''.__class__ }}",
        "{{name|{{x}}}}",
        "{{ 7*7 }}",
        "{{{name}}}",
    ]:
        with pytest.raises(MalformedPlaceholder):
            check_message_body(template)
    # Not our syntax at all, so plain text: accepted and sent as written.
    check_message_body("{% import os %} {{__class__}}")


def test_an_unclosed_placeholder_names_its_position() -> None:
    with pytest.raises(MalformedPlaceholder) as refused:
        check_placeholders("Hi {{name|there}},\nyour code is {{code")
    assert refused.value.position == 32
    assert refused.value.reason == INVALID_TEMPLATE
    assert "unclosed placeholder '{{code' at line 2, column 14" in str(refused.value)


def test_a_nested_placeholder_names_its_position() -> None:
    with pytest.raises(MalformedPlaceholder) as refused:
        check_placeholders("ok {{name|{{x}}}}")
    assert refused.value.position == 3
    assert "line 1, column 4" in str(refused.value)
    assert "nested" in str(refused.value)


def test_a_placeholder_that_is_not_a_field_name() -> None:
    with pytest.raises(MalformedPlaceholder) as refused:
        check_placeholders("Dear {{first name}}")
    assert refused.value.position == 5
    assert "'{{first name}}' at line 1, column 6 is not a placeholder" in str(refused.value)


def test_well_formed_templates_pass() -> None:
    for template in [
        "no placeholders",
        "Hi {{name}}",
        "Hi {{ name | there }}, {{city|your town}}! {{_x1}}",
        "{{a}}{{b|}}",
        "a }} stray closing braces and single { braces }",
        "multi\nline {{name}}\n",
    ]:
        check_message_body(template)


def test_long_body_refused_by_its_rendering_with_defaults() -> None:
    check_message_body("x" * WHATSAPP_MAX_BODY)
    with pytest.raises(BodyTooLong) as refused:
        check_message_body("x" * (WHATSAPP_MAX_BODY + 1))
    assert refused.value.reason == BODY_TOO_LONG
    assert "4097 characters" in str(refused.value)
    # Placeholders count as their default (nothing without one), not as written.
    check_message_body("x" * (WHATSAPP_MAX_BODY - 2) + "{{name}}{{city|ab}}")
    with pytest.raises(BodyTooLong):
        check_message_body("x" * (WHATSAPP_MAX_BODY - 2) + "{{city|abc}}")


def test_a_contact_can_make_a_body_too_long() -> None:
    body = "x" * (WHATSAPP_MAX_BODY - 10) + "{{city}}"
    assert fits_whatsapp(body, {"city": "a" * 10})
    assert not fits_whatsapp(body, {"city": "a" * 11})


def test_template_errors_are_value_errors() -> None:
    # So a pydantic validator that calls the check reports them as field errors.
    assert issubclass(TemplateError, ValueError)


def test_placeholders_in_order_of_first_use() -> None:
    assert placeholders("{{b}} {{a|x}} {{b}}") == ["b", "a"]
