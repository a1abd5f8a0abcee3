"""Prompts written for this project (Apache-2.0, like the code).

- `EDGY_BENIGN_PROMPTS`: benign prompts with alarming words, so the classifier cannot learn
  keywords (source ``edgy_handwritten``).
- The contrast set, `saess/data/contrast/*.jsonl` (source ``contrast``): benign prompts that
  sound harmful, each paired where natural with a harmful prompt that shares its words.
  One JSON object per line: ``{"id", "category", "benign", "harmful"}`` (``harmful`` may be
  null). `contrast_files()` finds the files when the source is read, so their sha256 in the
  provenance is the one of the files read.
"""

from __future__ import annotations

from pathlib import Path

from saess.data.base import BENIGN, MALICIOUS, PROJECT, Example, ProjectFile
from saess.data.parsers import read_jsonl, where
from saess.errors import InputError

CONTRAST_DIR = "data/contrast"  # relative to the saess folder
CONTRAST_FIELDS = ("id", "category", "benign", "harmful")
CONTRAST_NOTE = ("Written for this project by its LLM-assisted authors from category definitions (the "
                 "known over-refusal types: homonyms, figurative language, safe targets, safe contexts, "
                 "definitions, historical events, privacy of public figures and fictional characters, nonsense "
                 "groups, safety questions about medicine, law, security and chemistry; plain requests; harmful "
                 "writing requests paired with benign ones), without reading the evaluation sets; it goes through the "
                 "recipe's evaluation-overlap filter like every training source.")

# Benign prompts that contain "dangerous" words, so the classifier cannot learn keywords.
# Written for this project (Apache-2.0, like the code).
EDGY_BENIGN_PROMPTS: tuple[str, ...] = (
    "How do I kill a Python process that is stuck?",
    "How do I kill all child processes when the parent exits in bash?",
    "How can I shoot a good photo at night without a tripod?",
    "What household chemicals should never be mixed, so I can store them safely?",
    "How do I execute a shell script on a schedule with cron?",
    "What's the best way to terminate a thread in Java?",
    "How do I blow up a balloon without a pump?",
    "How can I destroy old hard drives so my personal data can't be recovered?",
    "What is the lethal dose of caffeine, so I know how much coffee is too much?",
    "How do I get rid of the weeds that are killing my lawn?",
    "How did the assassination of Archduke Franz Ferdinand start World War I?",
    "Why is carbon monoxide so dangerous, and how does a detector work?",
    "How do hackers usually steal passwords, so I can protect my accounts?",
    "What are common signs of a phishing email?",
    "How do I crack an egg with one hand?",
    "How do I crack my knuckles safely, and is it bad for me?",
    "Where can I buy a good kitchen knife for slicing bread?",
    "How should I safely dispose of expired medication?",
    "What is the plot of the movie Kill Bill?",
    "How do I beat the final boss in Dark Souls?",
    "How do I attack the queen's side in a chess opening?",
    "What's the best way to smoke a brisket on a charcoal grill?",
    "How do I exploit a pin in a chess game?",
    "How do vaccines train the immune system to fight a virus?",
    "What are the warning signs that a friend might be thinking about suicide, and how can I help?",
    "How do I safely handle a gun at a shooting range for the first time?",
    "How do I hack together a quick prototype in Flutter over a weekend?",
    "How can I break into the film industry as a screenwriter?",
    "How do I steal a base in baseball?",
    "Why do some mushrooms cause poisoning, and how do foragers tell them apart?",
    "How does a nuclear power plant prevent a meltdown?",
    "How do I remove a virus from my laptop?",
    "What should I do if I see someone overdosing on opioids?",
    "How do I fire an employee respectfully and legally?",
    "How can I murder the competition at a pub quiz with better trivia preparation?",
    "What's the history of the Molotov cocktail's name in the Winter War?",
    "How do I bypass the cache when loading a web page in Chrome?",
    "How do I put out a grease fire in the kitchen?",
    "How do locksmiths open a door when someone is locked out of their own house?",
    "What's a killer opening line for a wedding speech?",
    "How do I poison-proof my home for a new puppy?",
    "How can I make my essay explode with energy and persuade the reader?",
)


def parse_edgy_handwritten(files) -> list[Example]:
    return [Example(p, BENIGN, "edgy_handwritten", category="edgy") for p in EDGY_BENIGN_PROMPTS]


def contrast_files(folder: str | Path = CONTRAST_DIR) -> tuple[ProjectFile, ...]:
    """The contrast set's files, sorted by name (`folder` relative to the saess folder, or absolute)."""
    root = ProjectFile(str(folder), "Apache-2.0", PROJECT).local_path()
    if not root.is_dir():
        raise InputError(f"{root}: contrast set folder not found (shipped with saess; reinstall the package)")
    files = sorted(root.glob("*.jsonl"))
    if not files:
        raise InputError(f"{root}: no contrast files (*.jsonl)")
    rel = Path(folder)
    return tuple(ProjectFile(str(p if rel.is_absolute() else rel / p.name), "Apache-2.0", PROJECT) for p in files)


def _contrast_text(pf, line: int, obj: dict, name: str, nullable: bool = False) -> str | None:
    v = obj[name]
    if v is None and nullable:
        return None
    if not isinstance(v, str) or not v.strip():
        kind = "a non-empty string or null" if nullable else "a non-empty string"
        raise InputError(f"{where(pf, line)}: field '{name}' must be {kind}, got {v!r}")
    return " ".join(v.split())


def parse_contrast(files) -> list[Example]:
    """Each row gives a benign `Example` and, when ``harmful`` is not null, a malicious one;
    both carry ``meta["pair"]`` (the row's id), ``meta["file"]`` and ``meta["line"]``.

    A row with a missing or unknown field, an empty string, a harmful prompt equal to its benign
    one, or an id already used (in any file) is an `InputError` naming the file and line."""
    out: list[Example] = []
    ids: dict[str, str] = {}
    for pf in files:
        for line, obj in read_jsonl(pf):
            missing = [f for f in CONTRAST_FIELDS if f not in obj]
            if missing:
                raise InputError(f"{where(pf, line)}: field '{missing[0]}' is missing "
                                 f"(each line needs {', '.join(CONTRAST_FIELDS)}; harmful may be null)")
            unknown = sorted(set(obj) - set(CONTRAST_FIELDS))
            if unknown:
                raise InputError(f"{where(pf, line)}: unknown field '{unknown[0]}' "
                                 f"(expected {', '.join(CONTRAST_FIELDS)})")
            pair = _contrast_text(pf, line, obj, "id")
            category = _contrast_text(pf, line, obj, "category")
            benign = _contrast_text(pf, line, obj, "benign")
            harmful = _contrast_text(pf, line, obj, "harmful", nullable=True)
            if pair in ids:
                raise InputError(f"{where(pf, line)}: field 'id' {pair!r} is already used at {ids[pair]}")
            ids[pair] = where(pf, line)
            if harmful is not None and harmful.casefold() == benign.casefold():
                raise InputError(f"{where(pf, line)}: field 'harmful' equals field 'benign'")
            meta = {"pair": pair, "file": Path(pf.path).name, "line": line}
            out.append(Example(benign, BENIGN, "contrast", category=category, meta=dict(meta)))
            if harmful is not None:
                out.append(Example(harmful, MALICIOUS, "contrast", category=category, meta=dict(meta)))
    return out
