"""Opt-out keywords: which replies mean "stop sending to me", "start again" or "help". Pure; no
I/O.

Modelled on Twilio's Advanced Opt-Out. Three classes of keyword (opt-out, opt-in, help), each
with an optional confirmation reply; built-in lists per language, English being Twilio's own
(STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT; START, YES, UNSTOP; HELP, INFO). A tenant picks
its languages, adds keywords, turns built-ins off and sets the replies (:class:`KeywordSettings`);
:class:`KeywordMatcher` classifies an incoming message.

A keyword is the whole message, never a word inside it: "Stop!" and " STOP 🛑 " opt out,
"don't stop" and "stop it please" do not. Message and keyword are both put through
:func:`normalise_message`, then looked up in one dictionary:

1. Unicode NFKC, then casefold (fullwidth letters, "Stop" and "STOP" are "stop"; "ß" is "ss").
2. Diacritics are folded: accents from the Combining Diacritical Marks block (U+0300-U+036F)
   are dropped, so "suscripcion" is "suscripción" and "nao" is "não"; people often type without
   accents on a phone. Only that block: the vowel signs and nasal marks of Devanagari (and other
   Indic scripts) are letters of the word, not accents, and stay.
3. Typographic apostrophes (U+2018, U+2019, U+02BC) become "'": phones put them in as people
   type.
4. Leading and trailing punctuation, symbols and emoji, whitespace and control characters
   (Unicode categories P*, S*, Z*, C*, with emoji variation selectors and enclosing keycaps)
   are stripped; inside the message, each run of whitespace becomes one space, so a multi-word
   keyword ("cancelar suscripción", "ne plus recevoir") matches however it is spaced. Any other
   character inside the message stays: "opt-out" is not "opt out".

A message longer than 200 characters (after trimming whitespace) is never a keyword and is not
normalised: keywords are at most 40 characters, and the rest allows for punctuation and emoji.

Built-in lists hold words people really send to opt out in each language, and leave out words
that would swallow ordinary replies: no "no", "sí", "sim" or "ja" (only English keeps YES as
opt-in, as Twilio does), no translations of CANCEL or END (a reply "cancelar" or "annuler" to a
booking reminder is about the booking; "fine" is Italian for "end"). STOP is in every list:
people everywhere send it, and a tenant who picks only its own language still honours it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class KeywordClass(StrEnum):
    """What a keyword asks for."""

    OPT_OUT = "opt-out"
    OPT_IN = "opt-in"
    HELP = "help"


MAX_KEYWORD_CHARS = 40
MAX_KEYWORDS_PER_CLASS = 50
MAX_REPLY_CHARS = 1024
MAX_MESSAGE_CHARS = 200
"""A message longer than this (after trimming whitespace) is never a keyword."""

_OUT, _IN, _HELP = KeywordClass.OPT_OUT, KeywordClass.OPT_IN, KeywordClass.HELP

BUILT_IN_KEYWORDS: Mapping[str, Mapping[KeywordClass, tuple[str, ...]]] = MappingProxyType(
    {
        # Twilio's Advanced Opt-Out defaults, exactly.
        "en": {
            _OUT: ("stop", "stopall", "unsubscribe", "cancel", "end", "quit"),
            _IN: ("start", "yes", "unstop"),
            _HELP: ("help", "info"),
        },
        # BAJA/ALTA are the usual SMS pair in Spain and Latin America; "para" (also "for") and
        # "salir" are left out.
        "es": {
            _OUT: (
                "stop",
                "baja",
                "alto",
                "basta",
                "parar",
                "detener",
                "no molestar",
                "dar de baja",
                "darme de baja",
                "desuscribir",
                "desuscribirme",
                "cancelar suscripción",
            ),
            _IN: ("alta", "suscribir", "suscribirme", "comenzar", "iniciar"),
            _HELP: ("ayuda", "información"),
        },
        # SAIR is what Brazilian senders print ("responda SAIR").
        "pt-BR": {
            _OUT: (
                "stop",
                "sair",
                "parar",
                "pare",
                "descadastrar",
                "descadastre",
                "cancelar inscrição",
                "não quero mais receber",
            ),
            _IN: ("cadastrar", "inscrever", "começar", "iniciar"),
            _HELP: ("ajuda", "informação"),
        },
        # STOP is the opt-out word French regulation prescribes; the rest are its spellings.
        "fr": {
            _OUT: (
                "stop",
                "arrêt",
                "arrêter",
                "arrête",
                "désabonner",
                "désabonnement",
                "désinscrire",
                "désinscription",
                "ne plus recevoir",
            ),
            _IN: ("commencer", "démarrer", "abonner", "inscrire"),
            _HELP: ("aide", "info", "infos"),
        },
        "de": {
            _OUT: (
                "stop",
                "stopp",
                "abmelden",
                "abbestellen",
                "austragen",
                "aufhören",
                "aufhoeren",
                "keine werbung",
            ),
            _IN: ("start", "starten", "anmelden", "abonnieren"),
            _HELP: ("hilfe", "info"),
        },
        "it": {
            _OUT: (
                "stop",
                "basta",
                "cancellami",
                "rimuovimi",
                "disiscrivi",
                "disiscrivimi",
                "annulla iscrizione",
            ),
            _IN: ("iscrivi", "iscrivimi", "inizia"),
            _HELP: ("aiuto", "info", "informazioni"),
        },
        # UNREG/REG are the Indonesian operators' own subscription keywords; "daftar" (also
        # "list") and "tolong" (also "please") are left out.
        "id": {
            _OUT: ("stop", "berhenti", "unreg", "berhenti langganan", "jangan kirim lagi"),
            _IN: ("reg", "mulai", "berlangganan"),
            _HELP: ("bantuan", "info"),
        },
        # Hinglish as people type it, and Devanagari. Latin "band" alone is left out (an English
        # word); "haan"/"हाँ" (yes) too.
        "hi": {
            _OUT: (
                "stop",
                "band karo",
                "band kro",
                "band karein",
                "roko",
                "mat bhejo",
                "message mat bhejo",
                "बंद",
                "बंद करो",
                "बंद करें",
                "रोको",
                "रोकें",
                "मत भेजो",
            ),
            _IN: ("shuru", "shuru karo", "chalu karo", "शुरू", "शुरू करो", "चालू करो"),
            _HELP: ("madad", "sahayata", "मदद", "सहायता"),
        },
    }
)

LANGUAGES: tuple[str, ...] = tuple(BUILT_IN_KEYWORDS)
"""The BCP 47 tags with built-in keyword lists."""
DEFAULT_LANGUAGES: tuple[str, ...] = ("en",)


_APOSTROPHES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'"})
# Invisible parts of an emoji (category Mn/Me, unlike the emoji itself): trimmed with it.
_EMOJI_MARKS = frozenset(
    [chr(c) for c in range(0xFE00, 0xFE10)]  # variation selectors, e.g. the one in "❤️"
    + [chr(c) for c in range(0xE0100, 0xE01F0)]  # variation selectors supplement
    + ["\u20e3"]  # combining enclosing keycap, as in "1️⃣"
)


def _is_trimmed(char: str) -> bool:
    return unicodedata.category(char)[0] in "PSZC" or char in _EMOJI_MARKS


def _is_space(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] == "Z" or category == "Cc"


def _fold_diacritics(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(char for char in decomposed if not "\u0300" <= char <= "\u036f")
    return unicodedata.normalize("NFC", kept)


def normalise_message(text: str) -> str:
    """The form keywords are compared in (see the module's docstring): NFKC, casefolded,
    diacritics folded, outer punctuation, symbols, emoji and whitespace stripped, inner
    whitespace collapsed to one space. Keywords go through the same function."""
    folded = _fold_diacritics(unicodedata.normalize("NFKC", text).casefold())
    folded = folded.translate(_APOSTROPHES)
    start, end = 0, len(folded)
    while start < end and _is_trimmed(folded[start]):
        start += 1
    while end > start and _is_trimmed(folded[end - 1]):
        end -= 1
    words: list[str] = []
    in_space = False
    for char in folded[start:end]:
        if _is_space(char):
            in_space = True
            continue
        if in_space:
            words.append(" ")
            in_space = False
        words.append(char)
    return "".join(words)


_BUILT_IN_NORMALISED: Mapping[str, Mapping[str, KeywordClass]] = MappingProxyType(
    {
        language: MappingProxyType(
            {
                normalise_message(word): keyword_class
                for keyword_class, words in classes.items()
                for word in words
            }
        )
        for language, classes in BUILT_IN_KEYWORDS.items()
    }
)


class KeywordSettingsError(ValueError):
    """A rule of keyword settings that the settings break; ``field`` is the camelCase path of
    the offending setting (``languages[1]``, ``extra.opt-out[2]``, ``replies.help``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _empty_keywords() -> Mapping[KeywordClass, tuple[str, ...]]:
    return MappingProxyType({})


def _empty_replies() -> Mapping[KeywordClass, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class KeywordSettings:
    """A tenant's keywords: the built-in lists of ``languages``, less the built-ins in
    ``removed``, plus its ``extra`` keywords per class; and the reply sent when a message
    matches a class (none where ``replies`` has no entry).

    Built so that it is valid: construction raises :class:`KeywordSettingsError` otherwise.
    ``removed`` turns off built-ins only, so a built-in can move to another class by removing
    it and adding it to that class's ``extra``. A removed word that is no built-in of the
    chosen languages is allowed (the languages may change later)."""

    languages: tuple[str, ...] = DEFAULT_LANGUAGES
    extra: Mapping[KeywordClass, tuple[str, ...]] = field(default_factory=_empty_keywords)
    removed: tuple[str, ...] = ()
    replies: Mapping[KeywordClass, str] = field(default_factory=_empty_replies)

    def __post_init__(self) -> None:
        # Copies, so that a caller's dict or list changed later cannot change these settings.
        object.__setattr__(self, "languages", tuple(self.languages))
        object.__setattr__(self, "removed", tuple(self.removed))
        extra = {_keyword_class(key, "extra"): tuple(words) for key, words in self.extra.items()}
        replies = {_keyword_class(key, "replies"): text for key, text in self.replies.items()}
        object.__setattr__(self, "extra", MappingProxyType(extra))
        object.__setattr__(self, "replies", MappingProxyType(replies))
        _check_languages(self.languages)
        _check_replies(self.replies)
        removed = _check_removed(self.removed)
        _check_extra(self.extra, _built_ins(self.languages, removed))


def _keyword_class(key: str, setting: str) -> KeywordClass:
    try:
        return KeywordClass(key)
    except ValueError:
        classes = ", ".join(keyword_class.value for keyword_class in KeywordClass)
        raise KeywordSettingsError(
            setting, f"unknown keyword class {key!r}; one of {classes}"
        ) from None


def _check_languages(languages: tuple[str, ...]) -> None:
    for index, language in enumerate(languages):
        if language not in BUILT_IN_KEYWORDS:
            raise KeywordSettingsError(
                f"languages[{index}]",
                f"unknown language {language!r}; one of {', '.join(LANGUAGES)}",
            )


def _check_replies(replies: Mapping[KeywordClass, str]) -> None:
    for keyword_class, reply in replies.items():
        if not reply.strip():
            raise KeywordSettingsError(f"replies.{keyword_class}", "a reply cannot be empty")
        if len(reply) > MAX_REPLY_CHARS:
            raise KeywordSettingsError(
                f"replies.{keyword_class}", f"at most {MAX_REPLY_CHARS} characters"
            )


def _normalised_keyword(word: str, field: str) -> str:
    if len(word) > MAX_KEYWORD_CHARS:
        raise KeywordSettingsError(field, f"a keyword has at most {MAX_KEYWORD_CHARS} characters")
    normalised = normalise_message(word)
    if not normalised:
        raise KeywordSettingsError(
            field, "a keyword needs a letter or digit; punctuation, emoji and spaces are ignored"
        )
    return normalised


def _check_removed(removed: tuple[str, ...]) -> frozenset[str]:
    return frozenset(
        _normalised_keyword(word, f"removed[{index}]") for index, word in enumerate(removed)
    )


def _built_ins(
    languages: Iterable[str], removed: frozenset[str]
) -> dict[str, tuple[KeywordClass, str]]:
    """The built-in keywords in force, normalised, with their class and the first language
    that has them."""
    keywords: dict[str, tuple[KeywordClass, str]] = {}
    for language in languages:
        for word, keyword_class in _BUILT_IN_NORMALISED[language].items():
            if word not in removed:
                keywords.setdefault(word, (keyword_class, language))
    return keywords


def _check_extra(
    extra: Mapping[KeywordClass, tuple[str, ...]],
    built_ins: Mapping[str, tuple[KeywordClass, str]],
) -> None:
    added: dict[str, KeywordClass] = {}
    for keyword_class, words in extra.items():
        if len(words) > MAX_KEYWORDS_PER_CLASS:
            raise KeywordSettingsError(
                f"extra.{keyword_class}",
                f"at most {MAX_KEYWORDS_PER_CLASS} keywords per class",
            )
        for index, word in enumerate(words):
            field = f"extra.{keyword_class}[{index}]"
            normalised = _normalised_keyword(word, field)
            built_in = built_ins.get(normalised)
            if built_in is not None and built_in[0] is not keyword_class:
                other, language = built_in
                raise KeywordSettingsError(
                    field,
                    f"{word!r} is a built-in {other} keyword ({language}); "
                    f"list it in removed to make it {keyword_class}",
                )
            earlier = added.setdefault(normalised, keyword_class)
            if earlier is not keyword_class:
                raise KeywordSettingsError(field, f"{word!r} is already an extra {earlier} keyword")


DEFAULT_SETTINGS = KeywordSettings()
"""English, Twilio's keywords, no replies."""


class KeywordMatcher:
    """Classifies an incoming message as a keyword of a tenant's settings, or as none."""

    __slots__ = ("_classes",)

    def __init__(self, classes: Mapping[str, KeywordClass]) -> None:
        """``classes`` maps normalised keywords to their class; :meth:`of` builds it."""
        self._classes = dict(classes)

    @classmethod
    def of(cls, settings: KeywordSettings = DEFAULT_SETTINGS) -> KeywordMatcher:
        """The matcher of a tenant's (already valid) settings."""
        removed = frozenset(normalise_message(word) for word in settings.removed)
        classes = {
            word: keyword_class
            for word, (keyword_class, _) in _built_ins(settings.languages, removed).items()
        }
        for keyword_class, words in settings.extra.items():
            for word in words:
                classes[normalise_message(word)] = keyword_class
        return cls(classes)

    def classify(self, text: str) -> KeywordClass | None:
        """The class of keyword the whole message is, or None when it is no keyword."""
        trimmed = text.strip()
        if not trimmed or len(trimmed) > MAX_MESSAGE_CHARS:
            return None
        return self._classes.get(normalise_message(trimmed))

    def keywords(self, keyword_class: KeywordClass) -> frozenset[str]:
        """The keywords of one class in force, normalised."""
        return frozenset(word for word, found in self._classes.items() if found is keyword_class)
