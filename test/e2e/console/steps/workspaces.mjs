// Steps of the workspaces pages (see ../run.mjs for the scenario and ../lib.mjs for the harness).
