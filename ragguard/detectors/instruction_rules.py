"""The rule table of the instruction-like-content detector.

Rules are data: each :class:`Rule` pairs a stable code with one regular
expression, a weight (how strongly one match alone indicates an attack) and a
sentence saying why. Patterns are written as *combinations of cues* rather
than literal attack strings: an override verb aimed at a target the reader
does not have ("your instructions", "the previous prompt"), second-person
address to an AI, chat-template structure, output manipulation aimed at "your
response". Weights below 0.5 mark weak cues that only cross the default
quarantine threshold together with another cue (scores combine by noisy-OR).

This module holds the rule type, shared fragments and the core table
(overrides, role switches, fake chat markup, prompt extraction);
:mod:`ragguard.detectors.instruction_rules_direct` holds requests written
straight to the model with no override phrase, and
:mod:`ragguard.detectors.instruction_rules_indirect` holds the rules for
instructions planted in documents (exfiltration, output manipulation,
tool calls, code payloads, structure). :mod:`ragguard.detectors.instructions`
joins the three tables. Codes are part of the audit baseline: add rules,
never renumber.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ragguard.detectors.fastregex import compile_fast

__all__ = ["CORE_RULES", "RULE_FLAGS", "Rule", "compiled_rules"]

#: The flags every rule pattern is compiled with. Whatever is read from a pattern to skip
#: it (its gate, its phrase groups) must be read under these same flags.
RULE_FLAGS = re.IGNORECASE | re.MULTILINE


@dataclass(frozen=True)
class Rule:
    """One instruction-like-content rule.

    Attributes:
        code: Stable rule code, e.g. ``"RG-INS-001"``.
        pattern: Regular expression (compiled case-insensitive, multiline).
        weight: Score of a match on its own, in [0, 1].
        why: One sentence a reviewer can read.
        anchors: Cheap prefilter: for every group, one of its lowercase
            substrings must occur in the lowercased text before the pattern
            is tried (keeps scanning fast; a pattern cannot match without them).
            The detector adds the phrase groups it reads from the pattern
            itself and a gate for the case-sensitive words every match holds
            (:func:`ragguard.detectors.instructions.anchor_groups`,
            :mod:`ragguard.detectors.fastregex`); these hand-written groups
            cover what those cannot read, such as words behind a gap.
    """

    code: str
    pattern: str
    weight: float
    why: str
    anchors: tuple[tuple[str, ...], ...] = ()


# --- shared fragments -------------------------------------------------------
_OVERRIDE = (
    r"(?:ignore|ignoring|disregard|disregarding|forget|forgetting|neglect|override|overwrite|bypass|"
    r"discard|abandon|drop|skip|set\s+aside|pay\s+no\s+attention\s+to|do\s+not\s+follow|don'?t\s+follow|"
    r"stop\s+following|no\s+longer\s+follow)"
)
_PRIOR = (
    r"(?:previous|previously\s+given|prior|preceding|above|earlier|former|foregoing|initial|original|"
    r"old|past|existing|system|given|following|aforementioned|above[\s-]mentioned)"
)
# Things a model has and a human reader of a document does not.
_TARGET = (
    r"(?:instructions?|prompts?|rules|directives?|guidelines|commands|orders|conversation|"
    r"messages|tasks|assignments|constraints|restrictions|programming|training|policies|guardrails|"
    r"filters|context|requests)"
)
_AI = (
    r"(?:ai|a\.i\.|artificial\s+intelligence|(?:large\s+)?language\s+models?|llms?|chat\s*bots?|bots?|"
    r"(?:ai\s+)?assistants?|gpt(?:-?\d)?|chatgpt|claude|gemini|bard|copilot|agents?|models?)"
)
_RESPONSE = (
    r"(?:responses?|answers?|replies|reply|outputs?|messages?|summary|summaries|completions?|answer's|"
    r"response's|reply's)"
)
_REVEAL = (
    r"(?:reveal|show|print|output|repeat|display|tell\s+me|give\s+me|share|leak|dump|disclose|"
    r"list|spell\s+out|write\s+out|recite|provide|return|paste|echo)"
)


def _any(alternatives: str) -> tuple[str, ...]:
    """An anchor group written as ``"a|b|c"`` (keeps the table compact)."""
    return tuple(alternatives.split("|"))


_V_OVERRIDE = _any(
    "ignor|disregard|forget|neglect|overrid|overwrit|bypass|discard|abandon|drop|skip|set aside|no attention|follow"
)
_A_TARGET = _any(
    "instruction|prompt|rule|directive|guideline|command|order|conversation|message|task|"
    "assignment|constraint|restriction|programming|training|polic|guardrail|filter|context|"
    "request"
)
_A_REVEAL = _any(
    "reveal|show|print|output|repeat|display|tell me|give me|share|leak|dump|disclose|list|"
    "spell out|write out|recite|provide|return|paste|echo"
)
_A_AI = _any("ai|a.i.|intelligence|language model|llm|bot|assistant|gpt|claude|gemini|bard|copilot|agent|model")

CORE_RULES: tuple[Rule, ...] = (
    # --- overriding what the model was told ---------------------------------
    Rule(
        "RG-INS-001",
        rf"\b{_OVERRIDE}\s+(?:(?:all|any|every|each|the|these|those|your|my|of|and|other)\s+){{0,4}}"
        rf"{_PRIOR}\s+(?:[\w-]+\s+){{0,2}}{_TARGET}\b",
        0.85,
        "tells the model to ignore the instructions it was given before",
        anchors=(_V_OVERRIDE, _A_TARGET),
    ),
    Rule(
        "RG-INS-002",
        rf"\b(?:ignore|ignoring|disregard|forget|neglect|override|bypass|discard|abandon|drop)\s+"
        rf"(?:(?:all|any|every)\s+(?:(?:of\s+)?(?:the|your|my|these|those)\s+)?|(?:all\s+)?(?:of\s+)?your\s+)"
        rf"(?:[\w-]+\s+)?{_TARGET}\b",
        0.8,
        "tells the model to drop all of its instructions or rules",
        anchors=(_V_OVERRIDE, _A_TARGET),
    ),
    Rule(
        "RG-INS-003",
        r"\bforget\s+(?:about\s+)?(?:everything|all\s+(?:of\s+)?(?:that|this|the\s+above))\b",
        0.5,
        "tells the reader to forget everything said so far, a classic context reset",
        anchors=(_any("forget"),),
    ),
    Rule(
        "RG-INS-004",
        r"\b(?:ignore|disregard|forget)\s+(?:about\s+)?(?:everything|all|anything)\s+"
        r"(?:(?:that\s+)?(?:was\s+)?(?:said\s+|written\s+|mentioned\s+|stated\s+)?"
        r"(?:before|above|previously|prior|earlier|so\s+far|until\s+now|up\s+to\s+now)|"
        r"(?:you|we|i)\s+(?:\w+\s+){0,2}(?:know|learned|discussed|said|told|were\s+told|got|received))\b",
        0.8,
        "tells the model to discard everything that came before",
        anchors=(_any("ignor|disregard|forget"),),
    ),
    Rule(
        "RG-INS-005",
        r"\b(?:ignore|disregard|forget)\s+(?:the\s+)?(?:above|previous|preceding|prior|everything)\s*(?:[,.;:!-]|and\b)",
        0.6,
        "tells the model to ignore the preceding text",
        anchors=(_any("ignor|disregard|forget"),),
    ),
    Rule(
        "RG-INS-006",
        r"\b(?:change|update|replace|reset|rewrite|modify)\s+your\s+(?:\w+\s+)?"
        r"(?:instructions|rules|directives|guidelines|programming|system\s+prompt|prompt)\b"
        # "now: ..." or "now to ...": "your orders are now available" is a shop's notice.
        r"|\byour\s+(?:new\s+)?(?:instructions|rules|task|directives?|orders)\s+(?:are|is)\s+now\s*(?::|to\s+\w)",
        0.6,
        "tries to rewrite the model's own instructions",
        # "are now" / "is now": the second branch has no rewriting verb ("your instructions are now to ...").
        anchors=(_any("change|update|replace|reset|rewrite|modify| are now| is now"), _any("your")),
    ),
    Rule(
        "RG-INS-007",
        r"\b(?:(?:new|updated|real|actual|additional|further)\s+(?:tasks?|instructions?|assignments?|orders|directives?)"
        r"\s*(?:follow|are|is|:|[-–—]\s)|(?:focus|concentrate)\s+(?:now\s+)?on\s+(?:your|the|this)\s+new\s+"
        r"(?:task|assignment|instructions?)|(?:despite|regardless\s+of)\s+what\s+you(?:'ve|\s+have)?\s+"
        r"(?:been|were)\s+told)",
        0.45,
        "announces a new task that supersedes the current one",
        anchors=(
            _any("new|updated|real|actual|additional|further|focus|concentrate|despite|regardless"),
            _any("task|instruction|assignment|order|directive|told"),
        ),
    ),
    # German, Spanish, French, Italian, Portuguese, BCS overrides.
    Rule(
        "RG-INS-008",
        r"\b(?:ignorier\w*|vergiss|vergessen\s+sie|missachte\w*|übergeh\w*)\s+(?:\w+\s+){0,4}"
        r"(?:anweisungen|anweisung|instruktionen|befehle|aufträge|aufgaben|regeln|vorgaben|informationen|"
        r"alles|ausführungen)\b|\b(?:anweisungen|instruktionen|befehle|ausführungen|informationen)\s+"
        r"(?:\w+\s+){0,2}(?:ignorieren|vergessen|hinter\s+sich)",
        0.8,
        "German: tells the model to ignore or forget its instructions",
        anchors=(_any("ignorier|vergiss|vergessen|missacht|übergeh|hinter sich"),),
    ),
    Rule(
        "RG-INS-009",
        r"\b(?:vorherig|bisherig|vorangegangen|vorangehend|obig|vorig)\w*\s+(?:\w+\s+)?"
        r"(?:anweisungen|instruktionen|befehle|aufträge|aufgaben|informationen|ausführungen)\b"
        r"|\bvergiss\s+alles\b|\bnun\s+folgen\s+(?:neue|weitere)\s+(?:anweisungen|aufgaben)",
        0.55,
        "German: refers to the model's previous instructions or resets the context",
        anchors=(_any("vorherig|bisherig|vorangegangen|vorangehend|obig|vorig|vergiss|folgen"),),
    ),
    Rule(
        "RG-INS-010",
        r"\b(?:olvida|olvide|olvidar|ignora|ignore|ignorar)\s+(?:todo|todas\s+las\s+instrucciones|"
        r"las\s+instrucciones)\b|\boublie[rz]?\s+(?:tout|toutes?\s+(?:les\s+)?instructions)\b|"
        r"\bignore[rz]?\s+(?:toutes?\s+)?les\s+instructions\b|\bdimentica\s+(?:tutto|tutte\s+le\s+istruzioni)\b|"
        r"\besque(?:ç|c)a\s+(?:tudo|todas\s+as\s+instru(?:ç|c)(?:õ|o)es)\b|\bzaboravi\s+sve\b"
        r"|\b(?:забудь|забудьте|игнорируй|игнорируйте)\s+(?:все|всё|предыдущие)",
        0.75,
        "tells the model, in another language, to forget or ignore its instructions",
        anchors=(_any("olvid|ignor|oubli|dimentica|esque|zaboravi|забуд|игнор"),),
    ),
    # --- persona and role switches ------------------------------------------
    Rule(
        "RG-INS-020",
        r"\b(?:you\s+are\s+now|now\s+you\s+are|you(?:'re|\s+are)\s+no\s+longer)\s+"
        r"(?:(?:a|an|the|called|named|known\s+as|in)\b|(?-i:[A-Z\"']))"
        r"|\bnow\s+you\s+(?:act|will\s+act|play|pretend)\b|\b(?:from\s+now\s+on|for\s+the\s+rest\s+of\s+(?:this|our|the)\s+"
        r"(?:conversation|chat)),?\s+(?:you|your)\s+(?:are|will|must|shall|should|have|can\s+only|only|act|respond|"
        r"reply|answer)"
        # The contraction only before a name or a role: "from now on, you're ready to deploy" and
        # "you're the owner of the repository" are tutorials.
        r"|\bfrom\s+now\s+on,?\s+you(?:'|’)re\s+(?:(?:called|named|known\s+as|in\s+the\s+role)\b|(?-i:[A-Z]))",
        0.55,
        "reassigns the model's identity or behaviour from now on",
        anchors=(_any("you are|now you|no longer|from now on|you're|you’re|rest of"),),
    ),
    Rule(
        "RG-INS-021",
        r"\b(?:i\s+want|i'd\s+like|i\s+would\s+like|i\s+need)\s+you\s+to\s+(?:act|pretend|play|behave|roleplay|"
        r"role-play|simulate|be\s+my|become|function|respond\s+as|answer\s+as)\b|\byou\s+(?:are\s+going|will\s+have)\s+"
        r"to\s+(?:act|pretend|play|simulate|be)\b",
        0.6,
        "asks the model to take on a role",
        anchors=(_any("want you|like you|need you|going to|will have to"),),
    ),
    Rule(
        "RG-INS-022",
        # Not "pretend you can't see the screen", an accessibility exercise.
        r"\b(?:pretend|imagine)\s+(?:that\s+)?(?:you(?:'re|\s+are|\s+can(?!['’]t|not)|\s+have|\s+were)|to\s+be)\b"
        r"|\bstell\s+(?:dir|euch)\s+vor,?\s+(?:du\s+bist|ihr\s+seid|du\s+wärst|dass\s+du)\b"
        r"|\b(?:theoretical|hypothetical|fictional|imaginary|alternate|parallel)\s+(?:world|universe|scenario|reality)\s+"
        r"(?:where|in\s+which)\s+you\b"
        # Weak here: tabletop and training guides say "in this campaign you are role-playing as".
        r"|\byou\s+are\s+role-?playing\s+as\b"
        r"|\b(?:play|assume|take\s+on|adopt|immerse\s+yourself\s+in(?:to)?)\s+the\s+(?:role|persona|character)\s+of\b",
        0.45,
        "asks the reader to pretend to be someone else",
        anchors=(
            _any(
                "pretend|imagine|role|persona|character|stell dir vor|stell euch vor|world|universe|scenario|"
                "reality|playing as"
            ),
        ),
    ),
    Rule(
        "RG-INS-023",
        rf"\bact\s+as\s+(?:a|an|the|my)\s+(?:[\w-]+\s+){{0,2}}(?:interpreter|terminal|console|character|persona|"
        rf"{_AI}|jailbroken|unrestricted|uncensored|evil|hacker|expert|translator|debater|advisor|guide|dan)\b",
        0.3,
        "asks the reader to act as a persona",
        anchors=(_any("act as"),),
    ),
    Rule(
        "RG-INS-024",
        r"\b(?:stay|remain|stays|remaining)\s+(?:fully\s+|always\s+)?in\s+(?:character|(?:your|their|his|her)\s+roles?)"
        r"|\b(?:do\s+not|don't|never|not)\s+break\s+character\b|\bfall(?:ing)?\s+out\s+of\s+(?:their|the|your|his|her)\s+"
        r"(?:role|character|figure)|\bcompletely\s+absorbed\s+in\s+your\s+role"
        r"|\b(?:bleiben|bleibt|bleib)\s+(?:\w+\s+){0,3}in\s+(?:ihren|ihrer|seiner|deiner|der)\s+rollen?\b"
        r"|\baus\s+(?:ihrer|seiner|deiner|der)\s+rolle\s+fallen",
        0.4,
        "insists the model stays in a role (jailbreak role-play)",
        anchors=(_any("stay|remain|break character|out of|absorbed|rolle"),),
    ),
    Rule(
        "RG-INS-025",
        r"\bdo\s+anything\s+now\b|(?-i:\bDAN\b)\s*(?:mode|\)|,|which|stands)|\b(?:developer|dan|god|jailbreak|"
        r"unrestricted|evil|opposite)\s+mode\s+(?:enabled|activated|on)\b"
        # Status-line forms ("DAN MODE: ENABLED") of personas no software documents; not god
        # mode, which games document ("Cheats: godmode = on").
        r"|\b(?:dan|jailbreak|jailbroken)\s*mode\s*(?:[:=]\s*|is\s+(?:now\s+)?)(?:enabled|activated|active|on)\b"
        r"|\bsimulate\s+(?:the\s+)?(?:developer|dan|god|jailbreak)\s*mode\b"
        # Ethics only: "Content filter: Disabled" is a line of a router's manual.
        r"|\b(?:ethics|ethical|morality|moral)\s+(?:filters?|restrictions?)\s*"
        r"[:=]\s*(?:disabled|off|none|false)\b|\brefusal\s+mechanisms?\s*(?:[:=]\s*)?(?:disabled|off)\b",
        0.75,
        "invokes a known jailbreak persona (DAN, developer mode) or switches the model's safety off",
        # Every branch names the persona, a mode, or ethics / refusal; "off" and "none" occur in
        # most texts and made the rule run on 15% of them.
        anchors=(_any("anything now|dan|mode|ethic|moral|refusal"),),
    ),
    Rule(
        "RG-INS-026",
        r"\b(?:broken|break|freed?|escaped?)\s+(?:free\s+)?(?:of|from)\s+the\s+(?:typical\s+)?"
        r"(?:confines|restrictions|limitations|rules|shackles)\b|\b(?:not|no\s+longer|never)\s+(?:have\s+to\s+|need\s+to\s+)?"
        r"(?:abide|adhere|comply|bound|restricted|limited)\s+(?:by|to|with)\s+(?:any\s+|the\s+|their\s+|its\s+|your\s+)?"
        r"(?:\w+\s+){0,2}(?:rules|policies|policy|guidelines|restrictions|filters|ethics|morals)\b"
        # Rules of conduct, said to "you": "you need not follow the PEP 8 rules" is documentation,
        # "apps that do not follow the content policy" a store's terms.
        r"|\byou\s+(?:do\s+not|don(?:'|’)t|no\s+longer|never)\s+(?:have\s+to\s+|need\s+to\s+)?(?:obey|follow|respect)\s+"
        r"(?:any\s+|the\s+|your\s+|[\w-]+(?:'|’)s\s+)?(?:content|safety|ethical|moral|usage)\s+"
        r"(?:polic(?:y|ies)|guidelines|rules|filters?)\b"
        # Ethics and morals only: an endpoint "has no content restrictions".
        r"|\b(?:(?:has|have)\s+no|(?:doesn|don)(?:'|’)t\s+have\s+any|(?:does|do)\s+not\s+have\s+any)\s+(?:ethical|moral)"
        r"(?:\s+or\s+(?:ethical|moral|legal))?\s+(?:guidelines|restrictions|filters|limits|boundaries|principles|constraints)\b",
        0.6,
        "claims the model is free of its rules",
        anchors=(
            _any(
                "broken|break|free|escape|abide|adhere|comply|bound|restricted|limited|"
                "obey|follow|respect|has no|have no|t have any"
            ),
        ),
    ),
    Rule(
        "RG-INS-027",
        r"\b(?:du\s+bist|sie\s+sind)\s+(?:jetzt|nun|ab\s+sofort|ab\s+jetzt|keine?)\b|\b(?:jetzt|nun|ab\s+sofort)\s+"
        r"(?:bist\s+du|sind\s+sie)\b|\bich\s+möchte,?\s+dass\s+(?:du|sie)\s+(?:-?[\w-]+,?\s+){0,6}(?:fungier|agier|handel|"
        r"spiel|verhält|verhalt)\w*|\b(?:tu|tue|tun\s+sie)\s+so,?\s+als\b|\bin\s+(?:deiner|ihrer)\s+rolle\b",
        0.55,
        "German: reassigns the model's role",
        anchors=(_any("du bist|sie sind|bist du|sind sie|möchte|so als|so, als|rolle"),),
    ),
    Rule(
        "RG-INS-028",
        # Role verbs only: "you will now play the recorded macro", "you are to act on the feedback".
        r"\byou\s+(?:are\s+to|will\s+now|shall\s+now|must\s+now|are\s+now\s+going\s+to)\s+(?:act\s+as|pose\s+as|pretend|"
        r"roleplay|role-play|impersonate)\b|\byou\s+(?:are|have\s+been)\s+(?:now\s+)?replaced\s+by\b"
        r"|\byou\s+are\s+now\s+role-?playing\s+as\b"
        r"|\bcontinue\s+as\s+(?:[\w-]+\s+){0,2}(?:language\s+model|ai|chatbot)\b"
        # Unrestricted only: a game "simulates an AI opponent".
        r"|\bsimulate\s+(?:an?\s+)?(?:unrestricted|unfiltered|uncensored|jailbroken)\s+(?:ai|chatbot|language\s+model)\b"
        # A capability the model lacks ("pretend you can access the internet"); not "pretend you can't see".
        r"|\bpretend\s+(?:that\s+)?you\s+(?:can|could|are\s+able\s+to)\s+(?:access|browse|search|see|connect\s+to)\s+"
        r"(?:the\s+)?(?:internet|web|past|future|real-time|current|live)\b"
        # A sentence that opens by making the reader a machine ("Act as a Python interpreter.");
        # "the proxy acts as a reverse proxy" describes software.
        r"|(?:^|[.!?]\s+)act\s+as\s+(?:a|an)\s+(?:[\w-]+\s+){0,2}(?:interpreter|terminal|console|shell)\b",
        0.55,
        "tells the model to become another persona or model",
        anchors=(
            _any(
                "you are to|you will now|you shall now|you must now|going to|replaced by|continue as|simulate|"
                "playing as|pretend|act as"
            ),
        ),
    ),
    Rule(
        "RG-INS-029",
        r"\b(?:unfiltered|uncensored|amoral|unrestricted|jailbroken|unethical|immoral|unhinged)\s+(?:and\s+[\w-]+\s+)?"
        r"(?:ai|chatbot|bot|language\s+model|assistant|persona|character)s?\b"
        r"|\byou\s+have\s+no\s+(?:restrictions|filters|limits|limitations|boundaries)\b"
        r"|\b(?:böse|unzensierte|uneingeschränkte|unmoralische)[nr]?\s+ki\b",
        0.4,
        "describes an AI persona without restrictions (a jailbreak's premise)",
        anchors=(
            _any(
                "unfiltered|uncensored|amoral|unrestricted|jailbroken|unethical|immoral|unhinged|have no|"
                "böse|unzensiert|uneingeschränkt|unmoralisch"
            ),
        ),
    ),
    # --- fake chat-template and system markers ------------------------------
    Rule(
        "RG-INS-030",
        r"<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id|"
        r"begin_of_text|end_of_turn|start_of_turn)\|>|\[/?INST\]|<</?SYS>>|<start_of_turn>|<end_of_turn>",
        0.85,
        "contains chat-template control tokens that fake a system or user turn",
        anchors=(("<|", "inst]", "sys>>", "_of_turn>"),),
    ),
    Rule(
        "RG-INS-031",
        r"^[ \t>*]*(?:#{1,4}|\[|\(|\*\*)\s*(?:system|assistant|instruction|instructions|developer|admin|"
        # Each optional part takes the whitespace after it, so a run of spaces has one reading.
        r"human|user)\s*(?:(?:prompt|message|instructions?|note|override|update)\s*)?(?:(?:\]|\)|\*\*)\s*)?:"
        r"|^[ \t>*]*(?:system|admin|developer)\s+(?:prompt|message|instructions?|override|update|note)\s*:"
        r"|^[ \t>*]*new\s+instructions?\s*:",
        0.6,
        "a line poses as a system or instruction header of a chat prompt",
        anchors=(_any("system|assistant|instruction|developer|admin|human|user"), _any(":")),
    ),
    Rule(
        "RG-INS-032",
        r"</?(?:system|sys|instructions?|system_prompt|admin|im_start|assistant_instructions)>",
        0.45,
        "XML-style tags imitate a system or instruction block",
        anchors=(
            _any("<system|</system|<sys>|</sys>|<instruction|</instruction|<admin|</admin|<im_start|<assistant_"),
        ),
    ),
    Rule(
        "RG-INS-033",
        # [^\S\n]*, not \s*, after ^: under MULTILINE, \s* from every line start of a long run
        # of newlines re-read the rest of the run (quadratic; found by fuzzing).
        r"^[^\S\n]*(?:human|user|q)[^\S\n]*:.{0,400}\n\s*(?:assistant|ai|gpt|bot|chatgpt)\s*:",
        0.4,
        "embeds a fake user/assistant exchange",
        anchors=(_any("human|user|q"), _any("assistant|ai|gpt|bot"), _any(":")),
    ),
    # --- extracting the system prompt or secrets ----------------------------
    Rule(
        "RG-INS-040",
        rf"\b{_REVEAL}\s+(?:me\s+)?(?:[\w-]+\s+){{0,3}}(?:your\s+(?:[\w-]+\s+){{0,2}}(?:prompts?|instructions|"
        rf"system\s+message|rules|guidelines|directives|configuration|initiali[sz]ation)|(?:the\s+)?(?:system|initial|"
        rf"hidden|secret|original|pre)[\s-]*(?:prompts?|instructions|messages?))\b",
        0.7,
        "asks the model to reveal its system prompt or instructions",
        anchors=(_A_REVEAL, _any("prompt|instruction|system message|rules|guideline|directive|configuration|initiali")),
    ),
    Rule(
        "RG-INS-041",
        r"\bwhat\s+(?:are|were|is|was)\s+your\s+(?:\w+\s+)?(?:instructions|prompt|rules|directives|guidelines|"
        r"system\s+prompt|initial\s+prompt)\b|\b(?:beginning|start|first\s+(?:line|sentence|words?))\s+of\s+"
        r"(?:this|the|your)\s+(?:prompt|conversation|instructions|context)\b|\b(?:text|words|sentences|lines)\s+"
        r"(?:above|before)\s+(?:this|the\s+(?:text|prompt|first))|\bwhat\s+(?:is|was|'s)\s+(?:written|said|stated)\s+"
        r"(?:above|before|at\s+the\s+(?:beginning|start))",
        0.6,
        "asks what the model's instructions or prompt say",
        anchors=(
            _any("your|beginning|start|first|above|before|written|said|stated"),
            _any("instruction|prompt|rules|directive|guideline|conversation|context|text|words|sentence|lines"),
        ),
    ),
    Rule(
        "RG-INS-042",
        rf"\b{_REVEAL}\s+(?:me\s+)?(?:[\w-]+\s+){{0,3}}(?:api[\s_-]?keys?|passwords?|secret\s+keys?|access\s+tokens?|"
        rf"credentials|private\s+keys?|environment\s+variables|secrets)\b",
        0.35,
        "asks for secrets such as API keys or passwords",
        anchors=(_A_REVEAL, _any("api|password|secret|token|credential|private key|environment variable")),
    ),
    Rule(
        "RG-INS-043",
        r"\bprompt[\s_-]*texte?s?\b|\b(?:zeig\w*|gib|nenne|verrate)\s+(?:mir\s+)?(?:\w+\s+){0,3}"
        r"(?:prompt|anweisungen|systemanweisung)\w*",
        0.4,
        "refers to the model's prompt text",
        anchors=(_any("prompt|anweisung"),),
    ),
)


def compiled_rules(rules: tuple[Rule, ...]) -> tuple[tuple[Rule, re.Pattern[str]], ...]:
    """The rules with their compiled patterns.

    Compiled on each call; callers keep the result (the detector does so
    once, at import of its module). Each pattern is led by a lookahead for the
    characters its matches can start with (:func:`~ragguard.detectors.fastregex.compile_fast`):
    the same matches, found without trying the pattern at every position.

    Args:
        rules: Rules to compile.

    Returns:
        ``(rule, compiled pattern)`` pairs in the same order.
    """
    return tuple((r, compile_fast(r.pattern, RULE_FLAGS)) for r in rules)
