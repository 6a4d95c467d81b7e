"""The emotion rule of the NeuralFlow paragraph-latent model: one home for it. It labels the
training data (make_sequences.py) and scores generated text (emotion_stat.py), so the two always
agree on what a label means.

The rule, exactly:

- Labels, in this order (the default `model.emotions` list): neutral, happy, sad, angry.
- Each non-neutral label has a lexicon (LEXICON below) of English entries for the KJV bible and
  Chinese characters for the Tang poems.
- English: the text is lowercased and split into words, the maximal runs of letters a-z (so
  "LORD's" is the words "lord" and "s"). An entry ending in `*` is a stem and matches every word
  that starts with it ("rejoic*": rejoice, rejoiced, rejoiceth, rejoicing); any other entry
  matches only the word itself ("tears", not "tear"). Each matching word is one hit.
- Chinese: each occurrence in the text of a lexicon character is one hit ("愁愁" is two).
- hits(text) counts the hits of each non-neutral label (neutral has no lexicon and counts 0).
- classify(text) is the label with the most hits when that count is at least 1 and strictly
  greater than every other label's; otherwise (no hits, or a tie for the most) it is neutral.

No entry belongs to two labels, and no English word matches entries of two labels (checked when
this module loads), so a word or character counts for one label only.
"""
import re

LABELS = ("neutral", "happy", "sad", "angry")

# Stems (`*`) are chosen so they do not catch unrelated words: "sing" is spelled out because
# "sing*" would take "single", "sigh" because "sigh*" would take "sight", "happy" because
# "happ*" would take "happened".
LEXICON = {
    "happy": {
        "english": [
            "rejoic*", "joy*", "glad*", "prais*", "bless*", "sing", "sang", "sung", "singing",
            "singeth", "song", "songs", "delight*", "merry", "merrily", "happy", "laugh*",
            "danc*", "thank*", "cheer*", "exult*", "triumph*",
        ],
        "chinese": "喜欢笑乐歌悦欣庆舞娱畅酣宴贺福佳赏醉",
    },
    "sad": {
        "english": [
            "weep*", "wept", "mourn*", "sorrow*", "tears", "lament*", "grief", "griev*",
            "afflict*", "distress*", "sigh", "sighed", "sighing", "sighs", "sigheth", "wail*",
            "bewail*", "sackcloth", "anguish", "heaviness", "woe", "bitterly", "desolat*",
            "sad", "sadness", "lonely",
        ],
        "chinese": "愁泪悲哀怨恨苦孤寂寞伤涕泣啼哭惆怅凄憔悴忧叹衰残断别病",
    },
    "angry": {
        "english": [
            "wrath*", "anger*", "angry", "fury", "furious*", "smit*", "smote", "vengeance",
            "aveng*", "indignation", "rebuk*", "slay*", "slew", "slain", "jealous*", "fierce*",
            "rage", "raged", "rageth", "raging", "curse", "cursed", "curseth", "displeas*",
            "provok*",
        ],
        "chinese": "怒战杀兵戈剑刀箭弓血仇愤斩伐征虏敌寇烽戍甲威暴屠诛击攻",
    },
}

_WORD = re.compile(r"[a-z]+")


def _compile(entries):
    """One regex matching a whole word against every entry: stems as prefixes, the rest exactly."""
    parts = [re.escape(e[:-1]) + "[a-z]*" if e.endswith("*") else re.escape(e) for e in entries]
    return re.compile("(?:" + "|".join(parts) + ")")


_ENGLISH = {label: _compile(lexicon["english"]) for label, lexicon in LEXICON.items()}
_CHINESE = {label: frozenset(lexicon["chinese"]) for label, lexicon in LEXICON.items()}


def _check_lexicon():
    """The lexicons must be disjoint, or one word would count for two labels. Two English entries
    match a common word only when one's base (the entry without `*`) is matched by the other, so
    testing every base against the other labels' patterns finds every overlap."""
    seen = {}
    for label, lexicon in LEXICON.items():
        for entry in list(lexicon["english"]) + list(lexicon["chinese"]):
            if entry in seen and seen[entry] != label:
                raise ValueError(f"emotion_rule.py: entry {entry!r} is in both {seen[entry]} and {label}; keep it in one")
            seen[entry] = label
    words = [(e.rstrip("*"), label) for label, lexicon in LEXICON.items() for e in lexicon["english"]]
    for entry, label in words:
        for other_label, pattern in _ENGLISH.items():
            if other_label != label and pattern.fullmatch(entry):
                raise ValueError(f"emotion_rule.py: {label} entry {entry!r} also matches {other_label}; keep it in one")


_check_lexicon()


def hits(text):
    """Lexicon hits of each label in text: {label: count} over LABELS (neutral is always 0)."""
    counts = {label: 0 for label in LABELS}
    words = _WORD.findall(text.lower())
    for label, pattern in _ENGLISH.items():
        counts[label] += sum(1 for word in words if pattern.fullmatch(word))
    for label, characters in _CHINESE.items():
        counts[label] += sum(1 for character in text if character in characters)
    return counts


def classify(text):
    """The label with strictly the most hits (at least 1), else neutral."""
    counts = hits(text)
    best = max(LABELS, key=lambda label: counts[label])
    top = counts[best]
    if top >= 1 and sum(1 for label in LABELS if counts[label] == top) == 1:
        return best
    return "neutral"
