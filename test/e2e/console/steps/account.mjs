// Steps of the account pages (see ../run.mjs for the scenario and ../lib.mjs for the harness).
