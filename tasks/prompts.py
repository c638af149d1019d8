"""Prompt templates per model family, the step delimiter that goes with each, and answer
extraction from generated solutions.

Families:
- `qwen25_math`: Qwen2.5-Math(-Instruct) chat (ChatML) with the system prompt "Please reason
  step by step, and put your final answer within \\boxed{}."; steps end with a blank line.
- `metamath`: the Alpaca-style prompt MetaMath-tuned Llemma/Mistral models (Wu et al.)
  were trained on; solutions are written as "Step k: ..." lines ending with "The answer is:
  X"; one step per line. `metamath_fewshot` prepends two worked examples in that format.
- `raw`: the question as it is, the model continues with "Step 1: ..." lines (the REBASE
  code of Wu et al. prompts its MetaMath-tuned Llemma/Mistral policies this way).
- `plain`: the question and the boxed-answer instruction as bare text, for backends that
  apply the model's own chat template (e.g. `policy=hf` with `chat_template: true`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

QWEN_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
_METAMATH_HEADER = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
)
_METAMATH_SHOTS = (
    (
        "Tom has 3 boxes with 4 apples each. He eats 2 apples. How many apples are left?",
        "Step 1: Tom starts with 3 * 4 = 12 apples.\nStep 2: After eating 2 he has 12 - 2 = 10 apples.\n"
        "The answer is: 10",
    ),
    (
        "What is the value of $x$ if $2x + 6 = 14$?",
        "Step 1: Subtract 6 from both sides: 2x = 8.\nStep 2: Divide by 2: x = 4.\nThe answer is: 4",
    ),
)


def qwen_chat(system: str, user: str) -> str:
    """The ChatML text Qwen2.5 chat templates render, ending where the assistant starts."""
    return f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"


def _metamath(question: str, shots: bool) -> str:
    examples = ""
    if shots:
        examples = "".join(
            f"{_METAMATH_HEADER}### Instruction:\n{q}\n\n### Response: Let's think step by step.\n{a}\n\n"
            for q, a in _METAMATH_SHOTS
        )
    return f"{examples}{_METAMATH_HEADER}### Instruction:\n{question}\n\n### Response: Let's think step by step.\n"


@dataclass(frozen=True)
class PromptFamily:
    name: str
    step_delimiter: str

    def render(self, question: str) -> str:
        if self.name == "qwen25_math":
            return qwen_chat(QWEN_SYSTEM, question)
        if self.name in ("metamath", "metamath_fewshot"):
            return _metamath(question, shots=self.name == "metamath_fewshot")
        if self.name == "raw":
            return question
        return f"{question}\n{QWEN_SYSTEM}"


FAMILIES = {
    "qwen25_math": PromptFamily("qwen25_math", "\n\n"),
    "metamath": PromptFamily("metamath", "\n"),
    "metamath_fewshot": PromptFamily("metamath_fewshot", "\n"),
    "raw": PromptFamily("raw", "\n"),
    "plain": PromptFamily("plain", "\n"),
}


def family(name: str) -> PromptFamily:
    if name not in FAMILIES:
        raise ValueError(f"unknown prompt family '{name}' (known: {', '.join(sorted(FAMILIES))})")
    return FAMILIES[name]


_BOXED = re.compile(r"\\(?:boxed|fbox)\s*")
_ANSWER_IS = re.compile(r"[Tt]he (?:final )?answer is:?\s*(.+)")
_HASHES = re.compile(r"####\s*(.+)")
_SHEPHERD_TAG = "ки"  # Math-Shepherd-style policies end each line, the answer line too, with it
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")


def last_boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` (braces matched; also `\\boxed 5`, `\\fbox`)."""
    matches = list(_BOXED.finditer(text))
    for match in reversed(matches):
        start = match.end()
        if start < len(text) and text[start] == "{":
            depth = 0
            for i in range(start, len(text)):
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                if depth == 0:
                    content = text[start + 1 : i].strip()
                    return content or None
            continue
        bare = re.match(r"[^\s$.,;]+", text[start:])
        if bare:
            return bare.group(0)
    return None


def _tail(pattern: re.Pattern, text: str) -> str | None:
    matches = pattern.findall(text)
    if not matches:
        return None
    answer = matches[-1].strip().removesuffix(_SHEPHERD_TAG).strip().rstrip(".").strip()
    if answer.startswith("$") and answer.endswith("$") and len(answer) > 1:
        answer = answer[1:-1].strip()
    return answer or None


def extract_answer(text: str) -> str | None:
    """The final answer of a solution: the last `\\boxed{}`, else "The answer is X", else
    GSM8K's "#### X"; None when the text states no answer."""
    return last_boxed(text) or _tail(_ANSWER_IS, text) or hashes_answer(text)


def hashes_answer(text: str) -> str | None:
    """The answer after the last GSM8K-style `#### `, or None."""
    return _tail(_HASHES, text)


def strip_thousands(answer: str) -> str:
    """`1,234,567` -> `1234567` (GSM8K numbers), other answers unchanged."""
    compact = answer.replace(" ", "")
    return compact.replace(",", "") if _THOUSANDS.match(compact) else answer
