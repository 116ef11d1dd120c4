"""Rules for instructions planted in documents (indirect prompt injection).

Exfiltration links, tool-call payloads, jamming, direct address to an AI,
output manipulation aimed at "your response", code payloads handed to a
coding assistant, and conversational or tabular structure that does not
belong in a document. See :mod:`ragguard.detectors.instruction_rules` for the
rule type and the core table.
"""

from __future__ import annotations

from ragguard.detectors.instruction_rules import _A_AI, _AI, _RESPONSE, Rule, _any

# Sentence-initial verbs of a task set for a writer or an assistant (capitalised: a sentence starts there).
_TASK_VERB = (
    r"Write|Draft|Compose|Provide|Explain|Describe|Develop|Create|Generate|Translate|Summari[sz]e|Outline|"
    r"Suggest|Recommend|Give|List|Name|Share|Discuss|Analy[sz]e|Compare|Define|Tell"
)
# More verbs that open a task spliced into running text ("Enhance your response by ...").
_SPLICE_VERB = r"Enhance|Integrate|Include|Add|Mention|Insert|Append|Answer|Respond|Reply"
# Verbs that shape an answer ("Modify your answer to ..."), capitalised where a sentence starts.
_SHAPE_VERB = (
    r"Modify|Change|Adjust|Rewrite|Edit|Alter|Tailor|Adapt|Augment|Structure|Conclude|Preface|Format|Begin|End"
)
# What a question or task line opens with (case-insensitive).
_ASK = (
    r"what|how|why|who|explain|describe|write|draft|compose|provide|translate|summari[sz]e|create|generate|"
    r"develop|break\s+down|can\s+you"
)


# The reader's answer, without "message(s)": help tables tell users to edit their messages.
_ANSWER = r"(?:answers?|responses?|repl(?:y|ies)|outputs?|summary|summaries)"
# How a line beside a table opens when it is addressed to the reader: a question or task word
# early on, or a verb that shapes "your reply" later on the line.
_LINE_ASK = (
    rf"(?:[^|\n]{{0,20}}\b(?:{_ASK})\b|(?-i:{_SPLICE_VERB}|{_SHAPE_VERB})\b"
    rf"(?=[^|\n]*\byour\s+(?:\w+\s+)?{_RESPONSE}\b))"
)


# Anchors of RG-INS-081: an AI word the punctuation of an address follows ("AI:",
# "model ,"), or a greeting before one. Bare "ai" occurs inside most English
# texts ("said", "again") and made the rule run on nearly every chunk; rare
# names stay bare. The key collapses whitespace runs to one space.
_COMMON_AI_WORDS = ("ai", "a.i.", "intelligence", "model", "bot", "assistant", "agent")
_ADDRESSED_AI: tuple[str, ...] = (
    *(f"{w}{plural}{gap}{mark}" for w in _COMMON_AI_WORDS for plural in ("", "s") for gap in ("", " ")
      for mark in ",:!"),
    "llm", "gpt", "claude", "gemini", "bard", "copilot",
    "hey ", "hi ", "hello ", "hallo ", "dear ",
)  # fmt: skip

__all__ = ["INDIRECT_RULES"]

INDIRECT_RULES: tuple[Rule, ...] = (
    # --- exfiltration --------------------------------------------------------
    Rule(
        "RG-INS-050",
        r"!\[[^\]\n]{0,200}\]\(\s*<?(?:https?:)?//[^)\s]*(?:\{[^}\s]*\}|<[^>\s]+>|\$\{?[A-Za-z_]|%7B|\[[A-Z_]{3,}\])"
        # A placeholder holds a name; one with quotes inside is code building the tag
        # (f'<img src="https://host/{item["img"]}">'), not a template waiting for data.
        # ("[^<>]": an unclosed "<img" must not scan on through every later one, quadratic.)
        r"|<img\b[^<>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^\"'\s>]*(?:\{[^}\s\"']*\}|\$\{?[A-Za-z_]|%7B|\[[A-Z_]{3,}\])",
        0.85,
        "an image URL carries a template placeholder, a way to smuggle data out when rendered",
        anchors=(_any("![|<img"),),
    ),
    Rule(
        "RG-INS-051",
        r"!\[\s*<[^>\n]{1,60}>\s*\]\(\s*<[^>\n]{1,60}>\s*\)|!\[[^\]\n]{0,100}\]\(\s*(?:https?:)?//[^)\s]*"
        r"[?&](?:q|data|d|secret|key|token|prompt|history|conversation|chat|msg|message|info|pw|password|content|"
        r"text|c|p)=(?:\{|<|\$|\[)",
        0.7,
        "a markdown image is templated to carry conversation data",
        anchors=(_any("!["),),
    ),
    Rule(
        "RG-INS-052",
        r"\b(?:append|add|include|encode|insert|put|concatenate|embed)\b[^.\n]{0,80}\b(?:to|in|into)\s+"
        r"(?:the\s+|this\s+|a\s+|an\s+)?(?:url|link|query(?:\s+string)?|image\s+(?:url|link|source)|request\s+parameters?)\b"
        r"[^.\n]{0,40}",
        0.3,
        "asks to put data into a URL",
        anchors=(
            _any("append|add|include|encode|insert|put|concatenate|embed"),
            _any("url|link|query|image|request param"),
        ),
    ),
    Rule(
        "RG-INS-053",
        r"\b(?:send|post|forward|email|e-mail|upload|transmit|exfiltrate|leak|copy)\b[^.\n]{0,60}\b(?:conversation|"
        r"chat\s+history|previous\s+messages|user'?s?\s+(?:data|messages|emails?|passwords?|credentials|files|"
        r"contacts)|(?:the|all)\s+(?:above|previous)\s+(?:text|messages?)|system\s+prompt)\b[^.\n]{0,60}"
        r"\b(?:to|at)\s+(?:https?://|www\.|\S+@\S+\.\w+|\S+\.(?:com|net|org|io|xyz|ru|cn))",
        0.75,
        "asks to send conversation or user data to an outside address",
        anchors=(
            _any("send|post|forward|email|e-mail|upload|transmit|exfiltrat|leak|copy"),
            _any("conversation|chat history|previous messages|user|above|previous|system prompt"),
        ),
    ),
    # --- tool calls ----------------------------------------------------------
    Rule(
        "RG-INS-060",
        r"<(?:tool_call|function_call|function_calls|tool_use|invoke\s+name|antml:invoke)\b|\"function_call\"\s*:",
        0.6,
        "contains a raw tool-call payload",
        anchors=(_any('<tool_call|<function_call|<tool_use|<invoke|<invoke|function_call"'),),
    ),
    Rule(
        "RG-INS-061",
        r"\{\s*\"(?:tool|tool_name|function|name|action|recipient_name)\"\s*:\s*\"[^\"\n]{1,60}\"\s*,\s*"
        r"\"(?:arguments|parameters|args|input|action_input|tool_input)\"\s*:",
        0.4,
        "contains a JSON tool invocation",
        anchors=(_any('"arguments"|"parameters"|"args"|"input"|"action_input"|"tool_input"'),),
    ),
    # --- jamming and output control -----------------------------------------
    Rule(
        "RG-INS-070",
        r"\b(?:just|only|simply)\s+(?:say|print|output|write|type|respond\s+with|reply\s+with|answer\s+with|"
        # One run of whitespace, or one either side of the colon: "\s*:?\s*" let a long run be
        # split between its two halves in every way (0.7 s on 8,000 spaces, bench/regex_worst_case.py).
        r"return)\s*(?::\s*)?[\"“'](?=[^\"”\n]{1,200}[\"”'])",
        0.55,
        "commands an exact verbatim output",
        anchors=(_any("just|only|simply"), _any("\"|“|'")),
    ),
    Rule(
        "RG-INS-071",
        r"\b(?:always|only|exclusively|never)\s+(?:answer|respond|reply|say|output)\b|\b(?:every\s+time|whenever|each\s+time|"
        r"no\s+matter\s+what)\s+(?:you|the\s+user|someone|anyone|i)\s+(?:get|receive|are\s+asked|ask|say|type)\b",
        0.35,
        "fixes how the model must answer regardless of the question",
        anchors=(_any("always|only|exclusively|never|every time|whenever|each time|no matter"),),
    ),
    Rule(
        "RG-INS-072",
        r"\b(?:instead|stattdessen)\b[^.\n]{0,15}\b(?:say|print|output|write|respond|reply|answer|ausgeben|schreibe|sag)\b"
        r"|\b(?:say|print|output|write|respond|reply|answer)\b[^.\n]{0,30}\binstead\b",
        0.3,
        "replaces the expected answer with another output",
        anchors=(_any("instead|stattdessen"),),
    ),
    Rule(
        "RG-INS-073",
        # A bare "sources" or "documents" needs a reading verb or an ignoring word before it:
        # "do not install C sources" is packaging advice, "do not rely on the sources" is not.
        r"\b(?:do\s+not|don'?t|never|not|without)\s+(?:\w+\s+){0,3}(?:look(?:ing)?\s+(?:in|at)|rely(?:ing)?\s+on|"
        r"us(?:e|ing)|consider(?:ing)?|refer(?:ring)?\s+to|according\s+to|by)\s+(?:\w+\s+){0,3}"
        r"(?:documents|articles|search\s+results|sources)(?:\s+(?:provided|given))?\b"
        r"|\b(?:disregarding|ignoring)\s+(?:\w+\s+){0,3}(?:the\s+)?(?:documents|articles|search\s+results|sources)"
        r"(?:\s+(?:provided|given))?\b"
        r"|\b(?:do\s+not|don'?t|never|not|disregarding|ignoring|without)\s+(?:\w+\s+){0,3}(?:the\s+)?"
        r"(?:search\s+results|(?:documents|articles|sources)\s+(?:provided|given)|(?:provided|given|retrieved)\s+"
        r"(?:documents?|articles?|context|sources?))\b|\bby\s+your\s+own\s+knowledge\b",
        0.55,
        "tells the model to disregard the documents it was given",
        anchors=(_any("document|article|context|source|search result|own knowledge"),),
    ),
    Rule(
        "RG-INS-074",
        r"\b(?:refuse|decline)\s+to\s+(?:answer|respond|help|comply|assist)\b|\b(?:do\s+not|don't|never)\s+"
        r"(?:answer|respond\s+to|help\s+with)\s+(?:the|any)\s+(?:user|question)",
        0.35,
        "tells the model to refuse to answer",
        anchors=(_any("refuse|decline|do not|don't|never"), _any("answer|respond|help|comply|assist")),
    ),
    # --- addressing an AI directly -----------------------------------------
    Rule(
        "RG-INS-080",
        rf"\b(?:if|when|whenever)\s+you\s+are\s+(?:an?\s+|the\s+)?(?:[\w-]+\s+)?{_AI}\b"
        rf"|\b(?:note|message|instructions?|reminder|attention|important|memo)\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?"
        rf"(?:[\w-]+\s+)?{_AI}\b|\b{_AI}\s+(?:that\s+(?:is|are)\s+)?(?:reading|processing|summari[sz]ing|parsing|"
        rf"analy[sz]ing|scanning|crawling|indexing|retrieving)\s+(?:this|these)\b",
        0.7,
        "addresses an AI that reads this document",
        # Each alternative also needs its lead word: "you", a note-like noun, or a reading verb.
        anchors=(
            _A_AI,
            _any(
                "you|note|message|instruction|reminder|attention|important|memo|reading|processing|summari|parsing|"
                "analy|scanning|crawling|indexing|retrieving"
            ),
        ),
    ),
    Rule(
        "RG-INS-081",
        rf"(?<![^.!?\n])[ \t]*(?:(?:hey|hi|hello|hallo|dear|ok|okay|attention)[ \t]*(?:,[ \t]*)?)?"
        rf"{_AI}[ \t]*[,:!][ \t]+"
        rf"(?-i:[A-Za-z])"
        rf"|\b(?:hey|hi|hello|hallo|dear)\s+(?:gpt|chatgpt|ai|assistant|bot|claude|model|llm)\b",
        0.4,
        "speaks to an AI assistant by name",
        anchors=(_ADDRESSED_AI,),
    ),
    Rule(
        "RG-INS-082",
        r"\byou(?:'re|\s+are)\s+(?:just\s+|only\s+|a\s+|an\s+|the\s+)?(?:[\w-]+\s+)?(?:ai|language\s+model|llm|chat\s*bot|"
        r"ai\s+assistant)\b|\bas\s+an?\s+(?:ai|language\s+model|llm)\b[^.\n]{0,20}\byou\b|\byour\s+(?:training\s+data|"
        r"programming|content\s+polic(?:y|ies)|safety\s+(?:filters|guidelines)|knowledge\s+cut-?off|creators)\b",
        0.3,
        "speaks to the reader as an AI model",
        anchors=(
            _any(
                "you're|you are|as a|as an|your training|your programming|content polic|safety|cut-off|cutoff|creators"
            ),
        ),
    ),
    # --- manipulating the answer (indirect injection in documents) ---------
    Rule(
        "RG-INS-090",
        r"(?<!forward\s)(?<!forward\sto\s)(?<!respond\s)(?<!reply\s)(?<!response\s)(?<!attention\s)(?<!according\s)"
        r"\b(?:in|into|to|within|throughout|from|of|across)\s+(?:(?:each|every|all)\s+(?:of\s+)?)?your\s+"
        # Not "outputs": "add colour to your output" is how terminal tools are documented.
        r"(?:(?:next|final|following|entire|whole)\s+)?(?:responses?|answers?|completions?|answer's|response's)\b",
        0.55,
        "directs how the model must compose its response",
        anchors=(_any("your"), _any("response|answer|completion")),
    ),
    Rule(
        "RG-INS-097",
        # "every", said to the model: "annotators rank two responses to each prompt" is an RLHF guide.
        r"\btwo\s+(?:different\s+|separate\s+|distinct\s+){0,2}(?:responses|answers|replies)\s+(?:to|for)\s+every\s+"
        r"(?:prompt|question|message)\b|\brespond\s+as\s+two\s+(?:different\s+)?(?:personalities|personas|characters)\b"
        r"|\bevery\s+prompt\s+i\s+(?:give|send|write)\b",
        0.45,
        "sets up a split response to every prompt (a jailbreak's answer format)",
        anchors=(_any("two|every prompt"),),
    ),
    Rule(
        "RG-INS-091",
        rf"(?<!forward\s)(?<!respond\s)(?<!attention\s)\b(?:in|into|to|within|throughout|from|of)\s+your\s+"
        rf"(?:replies|reply|message|messages|reply's|summary|summaries)\b"
        rf"|^[^\S\n]*(?:provide|render|give|write|deliver|format|compose|present|start|begin|end)\s+your\s+(?:\w+\s+)?{_RESPONSE}\b"
        rf"|\byour\s+(?:response|answer|reply|output)s?\s+(?:should|must|shall|has\s+to|needs\s+to|will\s+now)\b",
        0.45,
        "directs the content or form of the reader's reply",
        anchors=(_any("your"), _any("repl|message|summar|response|answer|output")),
    ),
    Rule(
        "RG-INS-092",
        r"\b(?:scramble|jumble|anagram\w*|misspell\w*|typos?|rearrange|shuffle|reverse|replace|substitute|"
        r"remove|convert|group|encode|homophonic|leetspeak|pig\s+latin|capitali[sz]e)\b[^.!?\n]{0,60}"
        r"\b(?:letters?|words?|vowels?|spaces?|punctuation|characters?|symbols?)\b",
        0.3,
        "asks to corrupt or transform the text of the output",
        anchors=(
            _any(
                "scrambl|jumbl|anagram|misspell|typo|rearrang|shuffl|revers|replac|substitut|remov|"
                "convert|group|encod|homophonic|leetspeak|pig latin|capitali"
            ),
            _any("letter|word|vowel|space|punctuation|character|symbol"),
        ),
    ),
    Rule(
        "RG-INS-093",
        r"\b(?:suggest|encourage|urge|tell|direct|recommend|remind|invite|persuade|convince)\s+(?:the\s+|all\s+)?"
        r"(?:users?|readers?|customers?|visitors?|people)\s+to\b|\b(?:promote|advertise|link(?:ing)?\s+to)\b[^.\n]{0,60}"
        r"(?:www\.|https?://|\.com\b)",
        0.3,
        "asks to push users towards an action or site",
        anchors=(
            _any("suggest|encourag|urge|tell|direct|recommend|remind|invite|persuad|convinc|promot|advertis|link"),
        ),
    ),
    Rule(
        "RG-INS-094",
        r"\b(?:following|subsequent|below|this)\s+(?:code|script|snippet|command)\s*(?:block|snippet|excerpt|section|"
        r"segment|fragment)?\b[^.!?\n]{0,80}\byour\s+(?:\w+\s+)?(?:code|codebase|solution|implementation|algorithm|"
        r"program|response|answer)\b|\byour\s+(?:code|solution|implementation|answer)\s+(?:should|must)\s+"
        r"(?:\w+\s+){0,4}(?:following|subsequent)\s+code|\bthe\s+code\s+you\s+(?:develop|write|generate|produce)\b",
        0.4,
        "asks the model to insert given code into its answer",
        anchors=(_any("code|script|snippet|command"), _any("your|code you")),
    ),
    Rule(
        "RG-INS-095",
        r"(?:requests\.(?:post|put)|\.send(?:all|to|mail)?\(|smtplib|ftplib|\.connect\(\(|urlopen\([^)]*data|\.storbinary)"
        r"[\s\S]{0,400}?(?:os\.environ|psutil|cookies|/etc/(?:passwd|shadow)|getpass|\.ssh|id_rsa|clipboard|usb\.core|"
        r"bluetooth|keyring|contacts|gethostname|getuser|platform\.uname)|(?:os\.environ|psutil|cookies|/etc/(?:passwd|shadow)|"
        r"getpass|\.ssh|id_rsa|usb\.core|bluetooth|keyring|gethostname|getuser|platform\.uname)[\s\S]{0,400}?"
        r"(?:requests\.(?:post|put)|\.send(?:all|to|mail)?\(|smtplib|ftplib|\.connect\(\(|\.storbinary)",
        0.45,
        "code collects local system data and sends it to a remote host",
        anchors=(
            _any("requests.post|requests.put|.send|smtplib|ftplib|.connect((|urlopen|.storbinary"),
            _any(
                "os.environ|psutil|cookies|/etc/passwd|getpass|.ssh|id_rsa|clipboard|usb.core|"
                "bluetooth|keyring|contacts|gethostname|getuser|platform.uname"
            ),
        ),
    ),
    Rule(
        "RG-INS-096",
        # The gap stops at the next download call, so repeating one is read once, not once per copy.
        r"(?:urlretrieve|wget|requests\.get|urlopen|http\.request)"
        r"(?:(?!urlretrieve|wget|requests\.get|urlopen|http\.request)[\s\S]){0,300}?(?:exec\(|eval\(|os\.system\(|"
        r"subprocess\.(?:run|call|Popen)\(\s*(?:\[\s*)?[\"'](?:python|sh|bash))|\bof=/dev/[sh]d[a-z]\b|"
        r"\brm\s+-rf\s+/(?:\s|$|\*)|os\.remove\(\s*[\"']/(?:lib|bin|etc|usr)|\bmkfs\.\w+\s+/dev/[sh]d[a-z]\b",
        0.35,
        "code downloads and executes a remote file or destroys system files",
        anchors=(_any("urlretrieve|wget|requests.get|urlopen|http.request|/dev/|rm -rf|os.remove|mkfs"),),
    ),
    Rule(
        "RG-INS-114",
        # Weak: each shape also appears in tutorials. What makes it a payload is the request to
        # paste the code into an answer (RG-INS-094) beside it. curl counts only when code runs
        # it as a program (["curl", "-F", "file=@x"]): API docs show the plain command line.
        # Each gap stops at the next occurrence of its own keyword (or is bounded), so a text
        # that repeats one is read once, not once per occurrence.
        r"[\"']curl[\"']\s*,(?:(?![\"']curl[\"'])[^\n]){0,200}?[\s\"',](?:-F|--form|-T|--upload-file|-d|"
        r"--data(?:-binary)?)[\s\"',=]+(?:[\w.-]+=)?@[\w./~-]"
        r"|\.read\(\)(?:(?!\.read\(\))[\s\S]){0,300}?\.send(?:all)?\(\s*[A-Za-z_]"
        r"|(?:open\((?=[^)\n]{0,200}?cookie)[^)\n]{0,200}\)|browser_cookie3)(?:(?!open\(|browser_cookie3)[\s\S]){0,300}?"
        r"requests\.\w+\([^)\n]{0,300}?\bcookies\s*=",
        0.3,
        "code sends a local file or the browser's stored cookies to a remote host",
        anchors=(_any("curl|.send|cookie"),),
    ),
    # --- conversational pivots and structure --------------------------------
    Rule(
        "RG-INS-100",
        r"\b(?:well\s+done|very\s+good|good\s+job|great\s+job|excellent\s+(?:work|performance)|simply\s+great|"
        r"(?:that|this)\s+(?:is|was)\s+(?:done|enough)|sehr\s+gut|gut\s+gemacht|ausgezeichnete\s+leistung|"
        r"das\s+(?:ist\s+erledigt|genügt))\b[^\n]{0,80}?\b(?:now|nun|jetzt)\b",
        0.4,
        "praises a finished task and pivots to a new one, a context-switch pattern",
        anchors=(
            _any(
                "well done|very good|good job|great job|excellent|simply great|done|enough|sehr gut|"
                "gut gemacht|ausgezeichnet|erledigt|genügt"
            ),
            _any("now|nun|jetzt"),
        ),
    ),
    Rule(
        "RG-INS-101",
        r"\b(?:help\s+me\s+with|here\s+is|now\s+comes?|on\s+to|start\s+(?:over\s+)?with)\s+(?:the\s+following|a\s+new|"
        r"another|your\s+next|further)\s+(?:task|assignment|challenge)s?\b|\b(?:neue|weiteren?|folgender|nächste)\s+"
        r"(?:aufgabe|herausforderung)\b",
        0.4,
        "hands the reader a new task",
        anchors=(_any("task|assignment|challenge|aufgabe|herausforderung"),),
    ),
    Rule(
        "RG-INS-102",
        # After the second "stop", whitespace and an optional run of marks then whitespace:
        # written as two ``\s*`` around an optional ``[-:!,]*``, a long run of spaces could be
        # split between them in every way, which took 1 s on 2,000 tabs (bench/regex_worst_case.py).
        r"(?:^|[.!?]\s+|\s)(?:stop|stopp|halt|achtung|attention)\s*[-:!,]+\s*(?:(?:stop|stopp|now)\s*(?:[-:!,]+\s*)?)?"
        r"(?:write|say|print|ignore|output|answer|schreib\w*|sag|ich|i\s+(?:urgently\s+|really\s+|desperately\s+)?need)\b",
        0.5,
        "interrupts the current task to issue a new command",
        anchors=(_any("stop|halt|achtung|attention"),),
    ),
    Rule(
        "RG-INS-103",
        r"^[ \t]*(?:modify|change|adjust|rewrite|edit|alter|tailor|adapt|enhance|augment|structure|conclude|preface|"
        r"translate|render|provide|give|deliver|format|compose|present|start|begin|end|write)\s+your\s+(?:\w+\s+)?"
        r"(?:responses?|answers?|repl(?:y|ies)|outputs?|messages?|summary)\b",
        0.55,
        "an imperative line tells the model how to shape its answer",
        anchors=(_any("your"), _any("response|answer|repl|output|message|summary")),
    ),
    Rule(
        "RG-INS-104",
        # A question in a table cell; a task sentence spliced into a cell after its data (a cell
        # that *starts* with a verb is a label, as in command tables, unless data follows the
        # sentence in the same cell); or a question or task on its own line right before or after
        # the table: text addressed to whoever reads it.
        rf"\|[^|\n]*\b(?-i:What(?:'s|’s)?|How(?:'s|’s)?|Why|Who|Which|Can\s+you|Could\s+you)\s[^|\n?]{{6,200}}\?[^|\n]*\|"
        # The task may be followed by the rest of the cell's data, set off by a run of spaces.
        # Not after a label's punctuation: "| Lab 2: Create a repository ...  30 min |" is a syllabus.
        rf"|\|[^|\n]*?[^|\s:.)][ \t]+(?-i:{_TASK_VERB})\s[^|\n]{{12,200}}[.!?]"
        rf"(?:[ \t]{{2,}}[^|\s][^|\n]{{0,59}}?)?[ \t]*\|"
        rf"|\|[ \t]*(?-i:{_TASK_VERB})\s[^|\n]{{12,200}}[.!?][ \t]{{2,}}[^|\s][^|\n]{{0,60}}\|"
        # After a cell's data, an imperative about the reader's answer (lower-case "your": a
        # title-case cell such as "How to Edit Your Message" is a heading).
        # The answer word is followed by what to do with it ("to", "by", ...): "Format your output
        # as CSV" and "Change your reply-to address" are help tables.
        rf"|\|[^|\n]*?[^|\s:.)][ \t]+(?-i:{_SPLICE_VERB}|{_SHAPE_VERB})\s+(?-i:your)\s+(?:\w+\s+)?{_ANSWER}"
        rf"(?![-\w])(?=\s+(?:to|so|with|by|in|and)\s)"
        # (Indented lines too: a comment's delimiters, blanked to read it in place, leave spaces.)
        rf"|^[ \t]*(?-i:(?=[A-Z])){_LINE_ASK}[^|\n]{{6,200}}[?!.][ \t]*\n\|"
        rf"|(?<=\|\n)(?:\n)?[ \t]*(?-i:(?=[A-Z])){_LINE_ASK}[^|\n]{{6,200}}[?!.][ \t]*$",
        0.5,
        "a question or task sits inside or right beside tabular data, out of place in a table",
        anchors=(("|",),),
    ),
    Rule(
        "RG-INS-105",
        # A sentence inside a sentence: a capitalised task verb right after a lower-case word
        # (no full stop before it), its own sentence end, then the host sentence resuming in
        # lower case ("credited to Draft an essay about X.  your company's account").
        rf"\b(?-i:[a-z][a-z']*)[ \t]+(?-i:{_TASK_VERB}|{_SPLICE_VERB})[ \t]+"
        rf"(?:a|an|the|your|some|me|us|how|what|why|this|that|in|to)\b[^.!?\n|]{{10,200}}[.!?]"
        rf"(?=[ \t]{{1,3}}(?-i:[a-z]))",
        0.5,
        "a task sentence is spliced into the middle of another sentence, which resumes after it",
        anchors=(
            _any(
                "write|draft|compose|provide|explain|describe|develop|create|generate|translate|summari|outline|"
                "suggest|recommend|give|list|name|share|discuss|analy|compare|define|tell|enhance|integrate|include|"
                "add|mention|insert|append|answer|respond|reply"
            ),
        ),
    ),
    Rule(
        "RG-INS-106",
        # Nothing but headers comes before the greeting of a letter or an e-mail: a task on the
        # line right above "Hi David," is addressed to whoever reads the mail. Weak: a
        # newsletter may open with a slogan ("Give the gift of reading.") above its greeting,
        # and questions above a greeting are how mail threads quote each other.
        rf"(?:\A|^(?:subject|from|to|date|cc|betreff|von|an)\s*:[^\n]*\n)[ \t]*(?-i:{_TASK_VERB})\s[^\n]{{10,200}}"
        rf"[.!][ \t]*\n(?:[ \t]*\n)?[ \t]*(?-i:Hi|Hello|Dear|Hey|Hallo|Liebe[rs]?|Sehr\s+geehrte[rs]?)\s+"
        rf"[^\n,]{{1,40}},[ \t]*$",
        0.45,
        "a task stands right above the greeting of a letter, outside its text",
        anchors=(_any("hi |hello|dear|hey|hallo|liebe|sehr geehrte"),),
    ),
)
