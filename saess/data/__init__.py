"""The data layer: packaged sources, user prompt files, refusals, attack templates, training recipes.

- `base`: labels, `Example`, `normalize_prompt`, `ProjectFile` (data shipped inside the package).
- `parsers`: one parser per packaged format (AdvBench, HarmBench, Do-Not-Answer, XSTest, ...).
- `handwritten`: prompts written for this project (the edgy prompts, the contrast set loader).
- `sources`: the registry: every source's files (package, version, path, sha256, licence),
  role (train / eval / benign_eval) and parser; `load_source(name)`.
- `files`: reading a user's prompt file (JSONL or CSV), shared by the CLI commands.
- `refusals`: refusals that start with `GUIDE_TEXT` and give a reason grounded in the harm category.
- `templates`: adversarial wrappers (role-play, fiction, pretexts, injections, obfuscation), split
  into disjoint train and eval halves.
- `recipes`: `build_recipe(RecipeConfig)` -> the two training phases' data, with the evaluation
  sets removed from training.
"""

from saess.data.base import BENIGN, MALICIOUS, Example

__all__ = ["BENIGN", "MALICIOUS", "Example"]
