"""Opt-out keywords: which whole messages opt out, opt in or ask for help, in which languages,
with a tenant's own keywords, and which keyword settings are refused."""

from __future__ import annotations

import pytest

from herald_campaign.domain.opt_out_keywords import (
    BUILT_IN_KEYWORDS,
    DEFAULT_LANGUAGES,
    DEFAULT_SETTINGS,
    LANGUAGES,
    MAX_MESSAGE_CHARS,
    KeywordClass,
    KeywordMatcher,
    KeywordSettings,
    KeywordSettingsError,
    normalise_message,
)

OUT, IN, HELP = KeywordClass.OPT_OUT, KeywordClass.OPT_IN, KeywordClass.HELP


def matcher(*languages: str) -> KeywordMatcher:
    return KeywordMatcher.of(KeywordSettings(languages=languages))


# --- the built-in lists ---------------------------------------------------------------------


def test_english_is_twilios_advanced_opt_out_list_and_the_default() -> None:
    assert BUILT_IN_KEYWORDS["en"] == {
        OUT: ("stop", "stopall", "unsubscribe", "cancel", "end", "quit"),
        IN: ("start", "yes", "unstop"),
        HELP: ("help", "info"),
    }
    assert DEFAULT_LANGUAGES == ("en",)
    assert DEFAULT_SETTINGS.languages == ("en",)
    assert DEFAULT_SETTINGS.replies == {}


def test_the_languages_are_named_by_bcp_47_tags() -> None:
    assert LANGUAGES == ("en", "es", "pt-BR", "fr", "de", "it", "id", "hi")
    assert all(set(BUILT_IN_KEYWORDS[language]) == set(KeywordClass) for language in LANGUAGES)


def test_no_built_in_keyword_is_in_two_classes_even_with_every_language_chosen() -> None:
    seen: dict[str, tuple[KeywordClass, str]] = {}
    for language in LANGUAGES:
        for keyword_class, words in BUILT_IN_KEYWORDS[language].items():
            for word in words:
                normalised = normalise_message(word)
                earlier = seen.setdefault(normalised, (keyword_class, language))
                assert earlier[0] is keyword_class, (word, language, earlier)
    # And so every language together is a valid setting.
    KeywordSettings(languages=LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_built_in_keyword_is_already_in_normal_form_bar_accents(language: str) -> None:
    for words in BUILT_IN_KEYWORDS[language].values():
        for word in words:
            assert 0 < len(word) <= 40
            assert normalise_message(normalise_message(word)) == normalise_message(word)
            # Written lowercase and single-spaced, as people see them in the settings.
            assert word == word.casefold() and word == " ".join(word.split())


@pytest.mark.parametrize(
    "reply",
    ["no", "sí", "si", "sim", "ja", "oui", "haan", "हाँ", "ok", "okay", "thanks", "fine", "fin"],
)
def test_ordinary_replies_are_no_keyword_in_any_language(reply: str) -> None:
    assert matcher(*LANGUAGES).classify(reply) is None


def test_yes_opts_in_only_in_english() -> None:
    assert matcher("en").classify("Yes") is IN
    assert matcher(*(language for language in LANGUAGES if language != "en")).classify("Yes") is (
        None
    )


# --- matching: each language and class -------------------------------------------------------


@pytest.mark.parametrize(
    ("languages", "message", "expected"),
    [
        # English (the default)
        (("en",), "stop", OUT),
        (("en",), "STOPALL", OUT),
        (("en",), "Unsubscribe", OUT),
        (("en",), "cancel", OUT),
        (("en",), "END", OUT),
        (("en",), "quit", OUT),
        (("en",), "START", IN),
        (("en",), "yes", IN),
        (("en",), "Unstop", IN),
        (("en",), "HELP", HELP),
        (("en",), "info", HELP),
        # Spanish
        (("es",), "BAJA", OUT),
        (("es",), "¡Basta!", OUT),
        (("es",), "Alto", OUT),
        (("es",), "dar de baja", OUT),
        (("es",), "Cancelar suscripción", OUT),
        (("es",), "ALTA", IN),
        (("es",), "Suscribirme", IN),
        (("es",), "AYUDA", HELP),
        (("es",), "Información", HELP),
        # Portuguese (Brazil)
        (("pt-BR",), "SAIR", OUT),
        (("pt-BR",), "Descadastrar", OUT),
        (("pt-BR",), "Não quero mais receber", OUT),
        (("pt-BR",), "cancelar inscrição", OUT),
        (("pt-BR",), "Começar", IN),
        (("pt-BR",), "cadastrar", IN),
        (("pt-BR",), "Ajuda", HELP),
        (("pt-BR",), "informação", HELP),
        # Hindi: Hinglish and Devanagari
        (("hi",), "band karo", OUT),
        (("hi",), "Band Kro", OUT),
        (("hi",), "mat bhejo", OUT),
        (("hi",), "बंद करो", OUT),
        (("hi",), "बंद करो।", OUT),
        (("hi",), "रोकें", OUT),
        (("hi",), "shuru karo", IN),
        (("hi",), "शुरू", IN),
        (("hi",), "madad", HELP),
        (("hi",), "मदद", HELP),
        # French, German, Italian, Indonesian
        (("fr",), "Arrêt", OUT),
        (("fr",), "ne plus recevoir", OUT),
        (("fr",), "Désabonner", OUT),
        (("fr",), "démarrer", IN),
        (("fr",), "Aide", HELP),
        (("de",), "STOPP", OUT),
        (("de",), "Abmelden", OUT),
        (("de",), "aufhören", OUT),
        (("de",), "aufhoeren", OUT),
        (("de",), "keine Werbung", OUT),
        (("de",), "Anmelden", IN),
        (("de",), "Hilfe", HELP),
        (("it",), "Basta", OUT),
        (("it",), "cancellami", OUT),
        (("it",), "iscrivimi", IN),
        (("it",), "aiuto", HELP),
        (("id",), "UNREG", OUT),
        (("id",), "berhenti", OUT),
        (("id",), "jangan kirim lagi", OUT),
        (("id",), "REG", IN),
        (("id",), "bantuan", HELP),
        # STOP is in every list
        (("es",), "STOP", OUT),
        (("pt-BR",), "Stop", OUT),
        (("hi",), "stop", OUT),
        (("fr",), "STOP", OUT),
    ],
)
def test_a_keyword_of_a_chosen_language_is_classified(
    languages: tuple[str, ...], message: str, expected: KeywordClass
) -> None:
    assert matcher(*languages).classify(message) is expected


@pytest.mark.parametrize(
    ("languages", "message"),
    [
        (("en",), "stopp"),  # German; not English
        (("en",), "baja"),
        (("en",), "sair"),
        (("en",), "बंद करो"),
        (("es",), "unsubscribe"),  # English; not chosen
        (("es",), "yes"),
        (("pt-BR",), "baja"),
        (("hi",), "band"),  # an English word too: only "band karo"
        (("es", "pt-BR"), "cancelar"),  # a reply to a booking reminder, not an opt-out
        (("fr",), "annuler"),
        (("it",), "fine"),
    ],
)
def test_a_word_of_a_language_not_chosen_is_no_keyword(
    languages: tuple[str, ...], message: str
) -> None:
    assert matcher(*languages).classify(message) is None


def test_languages_add_up() -> None:
    both = matcher("en", "es")
    assert (both.classify("stop"), both.classify("baja"), both.classify("ayuda")) == (
        OUT,
        OUT,
        HELP,
    )


# --- matching: the whole message, however it is written --------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "stop",
        "STOP",
        "Stop",
        "Stop!",
        " stop. ",
        "STOP 🛑",
        "🛑🛑 stop 🛑🛑",
        "stop ❤️",  # with the emoji's variation selector
        "stop 👋🏽",  # with a skin tone modifier
        '"STOP"',
        "(stop)",
        "stop!!!???",
        "...stop...",
        "\tstop\n",
        "\u00a0stop\u3000",  # no-break and ideographic spaces
        "stop\u200b",  # zero-width space
        "\uff33\uff34\uff2f\uff30",  # fullwidth STOP
        "sTOp",
    ],
)
def test_stop_matches_with_any_case_punctuation_emoji_or_outer_whitespace(message: str) -> None:
    assert KeywordMatcher.of().classify(message) is OUT


@pytest.mark.parametrize(
    "message",
    [
        "don't stop",
        "stop it please",
        "please stop",
        "stopp",
        "stops",
        "sto p",
        "s.t.o.p",
        "st0p",
        "stop stop",
        "unsubscribe me",
        "yes please",
        "help me",
        "helpful",
        "",
        " ",
        "\n\t ",
        "🛑",
        "!!!",
    ],
)
def test_a_near_miss_or_an_empty_message_is_no_keyword(message: str) -> None:
    assert KeywordMatcher.of().classify(message) is None


@pytest.mark.parametrize(
    "message",
    [
        "cancelar suscripción",
        "Cancelar Suscripción",
        "CANCELAR SUSCRIPCION",  # without the accent
        "cancelar   suscripción",
        "cancelar\nsuscripción",
        " ¡Cancelar suscripción! ",
        "cancelar suscripción 🙏",
    ],
)
def test_a_multi_word_keyword_matches_however_it_is_spaced_or_accented(message: str) -> None:
    assert matcher("es").classify(message) is OUT


@pytest.mark.parametrize(
    "message",
    [
        "cancelar",
        "suscripción",
        "quiero cancelar suscripción",
        "cancelar suscripción ahora",
        "cancelar-suscripción",
        "cancelarsuscripción",
    ],
)
def test_a_multi_word_keyword_matches_only_as_the_whole_message(message: str) -> None:
    assert matcher("es").classify(message) is None


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("  Stop!  ", "stop"),
        ("STOP 🛑", "stop"),
        ("¡Basta!", "basta"),
        ("Cancelar   Suscripción", "cancelar suscripcion"),
        ("NÃO", "nao"),
        ("Arrêt", "arret"),
        ("Straße", "strasse"),
        ("\uff33\uff34\uff2f\uff30", "stop"),
        ("don\u2019t stop", "don't stop"),  # typographic apostrophe
        ("बंद करो।", "बंद करो"),  # Devanagari signs stay; the danda goes
        ("stop,  please", "stop, please"),  # inner punctuation stays
        ("", ""),
        (" \t\n ", ""),
        ("🛑 ! 🛑", ""),
    ],
)
def test_normalise_message(written: str, normalised: str) -> None:
    assert normalise_message(written) == normalised


# --- a tenant's own keywords -------------------------------------------------------------------


def test_extra_keywords_match_in_their_class_with_the_built_ins() -> None:
    settings = KeywordSettings(
        extra={OUT: ("Remove me", "No more messages"), IN: ("Subscribe",), HELP: ("Support?",)}
    )
    tenant = KeywordMatcher.of(settings)
    assert tenant.classify("remove me!") is OUT
    assert tenant.classify("NO MORE MESSAGES") is OUT
    assert tenant.classify("subscribe") is IN
    assert tenant.classify("support") is HELP
    assert tenant.classify("stop") is OUT
    assert KeywordMatcher.of().classify("remove me") is None


def test_removed_built_ins_no_longer_match_and_the_rest_still_do() -> None:
    tenant = KeywordMatcher.of(KeywordSettings(removed=("Cancel", "END", "info")))
    assert tenant.classify("cancel") is None
    assert tenant.classify("end") is None
    assert tenant.classify("info") is None
    assert tenant.classify("stop") is OUT
    assert tenant.classify("help") is HELP


def test_a_removed_built_in_can_move_to_another_class() -> None:
    settings = KeywordSettings(removed=("info",), extra={OUT: ("info",)})
    assert KeywordMatcher.of(settings).classify("INFO") is OUT


def test_removing_a_word_that_is_no_built_in_is_allowed() -> None:
    assert KeywordMatcher.of(KeywordSettings(removed=("baja",))).classify("stop") is OUT


def test_no_languages_leaves_only_the_extra_keywords() -> None:
    tenant = KeywordMatcher.of(KeywordSettings(languages=(), extra={OUT: ("halt",)}))
    assert (tenant.classify("halt"), tenant.classify("stop")) == (OUT, None)


def test_keywords_lists_what_is_in_force_per_class_normalised() -> None:
    tenant = KeywordMatcher.of(
        KeywordSettings(languages=("en", "es"), extra={HELP: ("Soporte",)}, removed=("info",))
    )
    assert tenant.keywords(HELP) == {"help", "ayuda", "informacion", "soporte"}
    assert "baja" in tenant.keywords(OUT) and "stop" in tenant.keywords(OUT)


def test_settings_are_copied_so_a_callers_dict_changed_later_does_not_change_them() -> None:
    extra = {OUT: ("halt",)}
    replies = {OUT: "You are unsubscribed."}
    settings = KeywordSettings(extra=extra, replies=replies)
    extra[IN] = ("halt",)
    replies[HELP] = ""
    assert dict(settings.extra) == {OUT: ("halt",)}
    assert dict(settings.replies) == {OUT: "You are unsubscribed."}


def test_class_keys_may_arrive_as_their_api_strings() -> None:
    settings = KeywordSettings(extra={"opt-out": ("halt",)}, replies={"help": "Reply STOP"})  # type: ignore[dict-item]
    assert settings.extra == {OUT: ("halt",)}
    assert settings.replies == {HELP: "Reply STOP"}
    assert KeywordMatcher.of(settings).classify("halt") is OUT


# --- settings that are refused -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"languages": ("en", "xx")}, "languages[1]"),
        ({"languages": ("pt_BR",)}, "languages[0]"),
        ({"extra": {OUT: ("halt", "🛑!!")}}, "extra.opt-out[1]"),
        ({"extra": {IN: ("   ",)}}, "extra.opt-in[0]"),
        ({"extra": {HELP: ("x" * 41,)}}, "extra.help[0]"),
        ({"extra": {OUT: tuple(f"halt {n}" for n in range(51))}}, "extra.opt-out"),
        ({"extra": {OUT: ("halt", "halt 2", "Start!")}}, "extra.opt-out[2]"),  # built-in opt-in
        ({"languages": ("en", "es"), "extra": {IN: ("BAJA",)}}, "extra.opt-in[0]"),
        ({"extra": {OUT: ("halt",), IN: ("HALT",)}}, "extra.opt-in[0]"),  # two extra classes
        ({"languages": ("es",), "extra": {IN: ("stop",)}}, "extra.opt-in[0]"),  # es has STOP
        ({"extra": {"opt-outs": ("halt",)}}, "extra"),
        ({"removed": ("stop", "")}, "removed[1]"),
        ({"removed": ("y" * 41,)}, "removed[0]"),
        ({"replies": {HELP: "r" * 1025}}, "replies.help"),
        ({"replies": {OUT: ""}}, "replies.opt-out"),
        ({"replies": {IN: "  \n "}}, "replies.opt-in"),
        ({"replies": {"stop": "Bye"}}, "replies"),
    ],
)
def test_invalid_settings_are_refused_naming_the_field(
    settings: dict[str, object], field: str
) -> None:
    with pytest.raises(KeywordSettingsError) as refused:
        KeywordSettings(**settings)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ")


@pytest.mark.parametrize(
    "settings",
    [
        {"extra": {HELP: ("x" * 40,)}},
        {"extra": {OUT: tuple(f"halt {n}" for n in range(50))}},
        {"replies": {HELP: "r" * 1024}},
        {"extra": {OUT: ("halt", "HALT!")}},  # the same keyword twice in one class
        {"extra": {OUT: ("stop",)}},  # a built-in of the same class
        {"removed": ("start",), "extra": {OUT: ("start",)}},  # moved to another class
        {"languages": ()},
    ],
)
def test_settings_at_the_limits_are_accepted(settings: dict[str, object]) -> None:
    KeywordSettings(**settings)  # type: ignore[arg-type]


def test_an_unknown_language_error_lists_the_supported_ones() -> None:
    with pytest.raises(KeywordSettingsError) as refused:
        KeywordSettings(languages=("klingon",))
    assert "pt-BR" in refused.value.message and "klingon" in refused.value.message


def test_a_conflict_names_the_class_and_language_of_the_built_in() -> None:
    with pytest.raises(KeywordSettingsError) as refused:
        KeywordSettings(languages=("en", "es"), extra={IN: ("baja",)})
    assert "opt-out" in refused.value.message and "(es)" in refused.value.message


# --- long input --------------------------------------------------------------------------------


def test_a_message_longer_than_the_bound_is_no_keyword() -> None:
    padded = "stop" + "!" * (MAX_MESSAGE_CHARS - 4)
    assert KeywordMatcher.of().classify(padded) is OUT
    assert KeywordMatcher.of().classify(padded + "!") is None


def test_outer_whitespace_does_not_count_towards_the_bound() -> None:
    assert KeywordMatcher.of().classify(" " * 10_000 + "stop" + "\n" * 10_000) is OUT


def test_a_huge_message_is_not_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    from herald_campaign.domain import opt_out_keywords

    def refuse(text: str) -> str:
        raise AssertionError("normalised a message too long to be a keyword")

    huge = "stop " * 1_000_000
    tenant = KeywordMatcher.of()
    monkeypatch.setattr(opt_out_keywords, "normalise_message", refuse)
    assert tenant.classify(huge) is None
