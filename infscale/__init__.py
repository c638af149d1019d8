"""infscale: compute-optimal inference search for language-model reasoning.

The subpackages live at the top of the repository (`search/`, `policies/`, `rewards/`,
`budgets/`, `tasks/`, `conf/`, `experiments/`) and install as `infscale.search`,
`infscale.policies`, ... (pyproject.toml maps them); nothing else is installed.
"""

__version__ = "0.1.0"
