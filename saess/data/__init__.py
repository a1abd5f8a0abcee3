"""The data layer: packaged sources, user prompt files, refusals, attack templates, training recipes.

- `sources`: every external file (package, version, path, sha256, licence, role) and its parser.
- `files`: reading a user's prompt file (JSONL or CSV), shared by the CLI commands.
- `refusals`: refusals that start with `GUIDE_TEXT` and give a reason grounded in the harm category.
- `templates`: adversarial wrappers (role-play, fiction, pretexts, injections, obfuscation), split
  into disjoint train and eval halves.
- `recipes`: `build_recipe(RecipeConfig)` -> the two training phases' data, with the evaluation
  sets removed from training.
"""

from saess.data.sources import BENIGN, MALICIOUS, Example

__all__ = ["BENIGN", "MALICIOUS", "Example"]
