"""Limits, defaults and names the options show in ``--help``, repeated from the library.

Building the command line then loads none of the library's machinery (pydantic models,
numpy, the guard, the ledger): each command imports what it runs when it runs. A test holds
every value here equal to the one it repeats.
"""

KINDS = ("realtime", "stt", "llm", "tts", "telephony", "selfhost", "platform")  # core.rates.KINDS
FORMATS = ("auto", "openai-realtime", "gemini-live", "nova-sonic")   # adapters.recorded
DEFAULT_ENCODING = "o200k_base"                                      # core.tokens
MAX_CALL_MINUTES = 24 * 60                                           # estimation.scenario
MAX_CALLS_PER_MONTH = 1e10                                           # estimation.scenario
MAX_SIMULATED_CALLS = 20_000_000                                     # estimation.scenario
MAX_LIMIT_USD = 1_000_000                                            # guard.policy
SPOOL_ENV = "COSTMODEL_SPOOL_DIR"                                    # ledger.spool
