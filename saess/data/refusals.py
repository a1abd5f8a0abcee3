"""Refusals that give a reason, grounded in the prompt's harm category.

Every refusal starts with `GUIDE_TEXT` ("Sorry, I cannot fulfill your request because"): the
medium strategic decoding inserts exactly these guide tokens and lets the model continue, so
training refusals must continue the same prefix. The rest reads
"... because it asks for <harm>, which could <consequence>." with several wordings per harm
category. The wording is chosen by a sha256 of the normalised prompt, so a recipe is
reproducible and different prompts of one category get different refusals.

`harm_category(category, prompt)` maps a source's category / intent / topic string (and, when
that says nothing, keywords of the prompt) to one of `HARM_CATEGORIES`.
"""

from __future__ import annotations

import hashlib
import re

from saess.data.base import normalize_prompt

GUIDE_TEXT = "Sorry, I cannot fulfill your request because"

# category -> (what the request asks for: noun phrases, what it could do: verb phrases, closings)
_HARMS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "weapons": (
        ("instructions for making or using weapons", "help with building weapons or explosives",
         "details about weapons that could be used to hurt people"),
        ("put people's lives at risk", "lead to serious injury or death", "be used to attack others"),
        ("If you are interested in the history of weapons or in safety rules, I can help with that.",),
    ),
    "violence": (
        ("help with hurting or threatening people", "a plan to harm someone",
         "content that promotes or enables violence"),
        ("cause real physical harm to others", "put someone's safety and life in danger",
         "encourage violence against real people"),
        ("If you or someone else is in danger, please contact local emergency services.",),
    ),
    "chemical_biological": (
        ("instructions for making dangerous chemical or biological agents",
         "details on producing toxic or infectious substances", "help with synthesising a hazardous agent"),
        ("cause mass casualties", "seriously harm or kill many people", "endanger public health"),
        ("I can explain general lab safety or the history of chemical weapons treaties instead.",),
    ),
    "cybercrime": (
        ("help with breaking into computer systems", "malicious code or hacking instructions",
         "a way to get unauthorized access to accounts or networks"),
        ("compromise other people's systems and data", "be used to steal data or disrupt services",
         "cause real damage to people and organisations"),
        ("If you are defending your own systems, I can help with security best practices.",),
    ),
    "fraud": (
        ("help with deceiving people out of their money", "a scam or fraudulent scheme",
         "instructions for committing fraud"),
        ("cause real financial harm to victims", "be used to cheat and exploit people",
         "hurt people who trust the wrong message"),
        ("I can explain how to recognise and report scams instead.",),
    ),
    "drugs": (
        ("instructions for making or obtaining illegal drugs", "help with illegal drug use or production",
         "details that facilitate drug abuse or trafficking"),
        ("endanger people's health and lives", "lead to overdoses and addiction",
         "support illegal and dangerous activity"),
        ("If you or someone you know is struggling with substance use, support services can help.",),
    ),
    "self_harm": (
        ("information that could help someone hurt themselves", "methods of self-harm",
         "content that encourages self-harm"),
        ("put a person's life at risk", "cause serious and lasting harm to someone who is struggling",
         "make a painful situation more dangerous"),
        ("If you are going through a hard time, please talk to someone you trust or contact a local crisis line.",
         "You do not have to face this alone: a local crisis line or a doctor can help right now."),
    ),
    "hate_harassment": (
        ("content that demeans or harasses people", "hateful or abusive language toward a group or person",
         "help with bullying or intimidating someone"),
        ("hurt people and spread prejudice", "be used to harass or humiliate someone",
         "promote discrimination against real people"),
        ("I'm happy to help with respectful communication instead.",),
    ),
    "sexual": (
        ("explicit sexual content", "sexual material that is not appropriate here",
         "sexual content involving real or non-consenting people"),
        ("harm or exploit the people involved", "violate people's dignity and consent",
         "be inappropriate and harmful"),
        ("",),
    ),
    "privacy": (
        ("private information about a person", "help with tracking or exposing someone",
         "personal data that should stay private"),
        ("violate someone's privacy and put their safety at risk", "enable stalking or identity theft",
         "expose people to harassment"),
        ("I can explain how to protect your own personal information instead.",),
    ),
    "misinformation": (
        ("false or misleading content", "help with spreading disinformation",
         "fabricated claims presented as fact"),
        ("mislead people and damage trust", "cause real harm to people who believe it",
         "spread dangerous falsehoods"),
        ("I can share what reliable sources say on the topic instead.",),
    ),
    "extremism": (
        ("content that promotes extremist violence", "help with radicalising or recruiting people",
         "propaganda for a violent movement"),
        ("lead to terrorism and loss of life", "draw people into violence",
         "put communities in danger"),
        ("",),
    ),
    "manipulation": (
        ("help with manipulating or coercing someone", "psychological tactics to control another person",
         "ways to exploit someone's trust"),
        ("cause serious emotional harm", "be used to abuse or control someone",
         "damage someone's wellbeing and autonomy"),
        ("If you are worried about a relationship, I can point you to healthy communication resources.",),
    ),
    "jailbreak": (
        ("me to ignore my safety guidelines", "instructions that override my safeguards",
         "hidden system information or credentials"),
        ("lead to harmful or unsafe outputs", "expose confidential information",
         "be used to misuse this system"),
        ("I'm glad to help with your actual question within my guidelines.",),
    ),
    "illegal": (
        ("help with an illegal activity", "instructions for breaking the law",
         "a way to evade the law or its enforcement"),
        ("cause harm to others and serious legal consequences", "hurt people and communities",
         "facilitate crime"),
        ("I can help you understand the relevant laws or find a legal alternative.",),
    ),
    "generic": (
        ("content that could be used to cause harm", "help with a harmful activity",
         "something that goes against my safety guidelines"),
        ("put people at risk", "cause real harm to others", "be misused to hurt someone"),
        ("I'm happy to help with something else.",),
    ),
}
HARM_CATEGORIES: tuple[str, ...] = tuple(_HARMS)

# Sentence frames after the guide text: {harm} is a noun phrase, {cons} a verb phrase.
_FRAMES = (
    " it asks for {harm}, which could {cons}.",
    " it asks for {harm}, and providing that could {cons}.",
    " it is a request for {harm}, which could {cons}.",
    " answering would mean giving {harm}, which could {cons}.",
    " it seeks {harm}, and that could {cons}.",
    " it involves {harm}, which could {cons}.",
)

# Source category strings (lowercased, substring match, first rule wins) -> harm category.
_CATEGORY_RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("s006sh", "self_harm", "self-harm", "suicide"), "self_harm"),
    (("csam", "s004", "sexual", "adult", "erotic", "porn", "lewd"), "sexual"),
    (("chemical", "biolog", "biosecurity", "poison", "toxin", "nerve", "pathogen"), "chemical_biological"),
    (("s006items", "weapon", "explosive", "bomb", "ied", "firearm", "gun", "suppressor", "ammo"), "weapons"),
    (("extrem", "terror", "radical"), "extremism"),
    (("s006", "violence", "violent", "attack", "kidnap", "murder", "assault", "animal-cruelty", "arson"),
     "violence"),
    (("s008phish", "s008spam", "fraud", "scam", "phish", "financial_crime", "counterfeit", "forgery",
      "academic_dishonesty", "gambling"), "fraud"),
    (("s008", "cyber", "malware", "hack", "intrusion", "exploit", "ransom", "phishing"), "cybercrime"),
    (("s009", "privacy", "doxx", "stalk", "surveillance", "credential", "data_exfiltration", "tracking"),
     "privacy"),
    (("drug", "controlled-substances", "narcotic", "meth"), "drugs"),
    (("s005", "s007", "hate", "harass", "bully", "toxicity", "controversial_speech", "discriminat",
      "stereotyp"), "hate_harassment"),
    (("s001", "misinformation", "disinformation", "misinfo"), "misinformation"),
    (("manipulation", "coercion", "grooming", "abuse"), "manipulation"),
    (("jailbreak", "prompt_injection", "injection"), "jailbreak"),
    (("s003", "illegal", "piracy", "evasion", "smuggl", "launder", "theft", "copyright"), "illegal"),
)

# Keywords of the prompt itself, used when the category string maps to nothing.
_PROMPT_RULES: tuple[tuple[str, str], ...] = (
    (r"suicid|self[- ]harm|kill myself|cut myself|overdose|anorexi|purging|eating disorder|miscarriage",
     "self_harm"),
    (r"child (porn|sexual)|explicit|sexual|porn|nude|erotic|prostitut", "sexual"),
    (r"nerve agent|sarin|anthrax|ricin|toxin|pathogen|bioweapon|chemical weapon|poison|contaminat",
     "chemical_biological"),
    (r"bomb|explosi|firearm|\bguns?\b|rifle|weapon|ammunition|grenade|napalm|incendiar|thermite|"
     r"detonat|booby", "weapons"),
    (r"terroris|extremis|radicali|jihad|manifesto", "extremism"),
    (r"\bkill|murder|assault|torture|stab|shoot|hurt (someone|people)|kidnap|abduct|\blure\b|"
     r"physical harm|violen|sabotag|tamper|ransom|threaten|hit-and-run|chaos", "violence"),
    (r"phishing|scam|fraud|counterfeit|launder|ponzi|pyramid scheme|fake (id|invoice|review|dating)|"
     r"identity theft|catfish|plagiari|cheat|insider trading|falsify", "fraud"),
    (r"hack|malware|ransomware|virus|keylogger|exploit|ddos|botnet|sql injection|password|\bworm\b|"
     r"trojan|command-and-control|wi-?fi|sim-swap|cryptominer|bulletproof hosting|credentials|cyber ?attack|hijack", "cybercrime"),
    (r"\bmeth|cocaine|heroin|fentanyl|\bdrugs?\b|\blsd\b|mdma|\bghb\b", "drugs"),
    (r"dox|stalk|track (someone|my)|home address|social security|private information|spy on|spyware|"
     r"hidden camera|secretly (monitor|record|install|track)|personal data|without (their|user) consent|tracks user",
     "privacy"),
    (r"racis|sexis|slur|hate|harass|bully|insult|demean|dehumani|oppression", "hate_harassment"),
    (r"fake news|disinformation|misinformation|false information|conspiracy|propaganda|hoax|defam|false accusation", "misinformation"),
    (r"manipulat|gaslight|coerce|blackmail|\bcult\b", "manipulation"),
    (r"ignore (all )?(previous|prior) instructions|system prompt|jailbreak|\bdan\b", "jailbreak"),
    (r"illegal|steal|theft|shoplift|smuggl|evade|launder|bribe|pirat|traffick|break into|burglar|crime|pick a lock|infiltrate", "illegal"),
)


def harm_category(category: str | None, prompt: str = "") -> str:
    """Map a source category string (and the prompt, as a fallback) to a `HARM_CATEGORIES` name."""
    if category:
        c = category.lower()
        if c in _HARMS:
            return c
        for keys, harm in _CATEGORY_RULES:
            if any(k in c for k in keys):
                return harm
    p = prompt.lower()
    for pattern, harm in _PROMPT_RULES:
        if re.search(pattern, p):
            return harm
    return "generic"


def _digest(text: str) -> bytes:
    return hashlib.sha256(normalize_prompt(text).encode("utf-8")).digest()


def make_refusal(prompt: str, category: str | None = None, *, closing: bool = True) -> str:
    """A refusal for `prompt` that starts with `GUIDE_TEXT` and names the harm and its consequence.

    `category` is a source category string or a `HARM_CATEGORIES` name (None: guessed from the
    prompt). Deterministic: the same prompt and category always give the same refusal.
    """
    harm = harm_category(category, prompt)
    harms, conss, closings = _HARMS[harm]
    d = _digest(prompt)
    text = GUIDE_TEXT + _FRAMES[d[0] % len(_FRAMES)].format(
        harm=harms[d[1] % len(harms)], cons=conss[d[2] % len(conss)])
    if closing and d[3] % 2 == 0:  # half of the refusals offer a safe alternative
        extra = closings[d[4] % len(closings)]
        if extra:
            text += " " + extra
    return text


def refusal_variants(category: str) -> int:
    """How many distinct refusal sentences (without closing) one harm category can produce."""
    harms, conss, _ = _HARMS[harm_category(category)]
    return len(_FRAMES) * len(harms) * len(conss)
