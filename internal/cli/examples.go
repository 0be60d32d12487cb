package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// examples are the Example of each client command without one of its
// own, by command path below the root. The scope flags can also come
// from HKS_ORG, HKS_WORKSPACE and HKS_PROJECT.
var examples = map[string]string{
	"login": `  hks login --server https://hks.example.com
  hks login --server https://hks.example.com --device
  echo "$PASSWORD" | hks login --server https://hks.example.com --email dev@example.com --password-stdin`,
	"logout": `  hks logout`,

	"org":        `  hks org list`,
	"org create": `  hks org create "Acme Corp" --slug acme --billing-email billing@acme.example`,
	"org list":   `  hks org list -o yaml`,
	"org get":    `  hks org get acme`,
	"org delete": `  hks org delete acme`,
	"org invite": `  hks org invite dev@example.com --org acme --role admin`,
	"org join":   `  hks org join "$INVITATION_TOKEN"`,

	"workspace":        `  hks workspace list --org acme`,
	"workspace create": `  hks workspace create web --org acme --plan shared --wait`,
	"workspace list":   `  hks workspace list --org acme -o json`,
	"workspace get":    `  hks workspace get web --org acme`,
	"workspace delete": `  hks workspace delete web --org acme`,
	"workspace usage":  `  hks workspace usage web --org acme`,
	"workspace sleep":  `  hks workspace sleep web --org acme`,
	"workspace wake":   `  hks workspace wake web --org acme --wait`,
	"workspace update": `  hks workspace update web --org acme --sleep-after 20m
  hks workspace update web --org acme --sleep-after 0
  hks workspace update web --org acme --sleep-after default`,
	"workspace hibernate": `  hks workspace hibernate web --org acme --start "0 19 * * 1-5" --end "0 7 * * 1-5" --location Europe/Berlin
  hks workspace hibernate web --org acme --clear`,

	"project": `  hks project list --org acme --workspace web`,
	"project create": `  hks project create api --org acme --workspace web --cpu 2 --memory 4Gi --pods 20
  hks project create api-canary --parent api --org acme --workspace web`,
	"project list": `  hks project list --org acme --workspace web`,
	"project get":  `  hks project get api --org acme --workspace web`,
	"project update": `  hks project update api --pod-security restricted --org acme --workspace web
  hks project update api --cpu 4 --memory 8Gi --org acme --workspace web`,
	"project delete": `  hks project delete api --org acme --workspace web`,
	"project usage":  `  hks project usage api --org acme --workspace web`,

	"group":            `  hks group list --org acme --workspace web`,
	"group create":     `  hks group create backend --parent devs --org acme --workspace web`,
	"group list":       `  hks group list --org acme --workspace web`,
	"group get":        `  hks group get devs --org acme --workspace web`,
	"group delete":     `  hks group delete devs --org acme --workspace web`,
	"group add-member": `  hks group add-member devs --email dev@example.com --org acme --workspace web`,
	"group members":    `  hks group members devs --org acme --workspace web`,

	"rolebinding": `  hks rolebinding list --org acme --workspace web`,
	"rolebinding create": `  hks rolebinding create --group devs --role developer --project api --org acme --workspace web
  hks rolebinding create --group ops --role workspace-admin --org acme --workspace web`,
	"rolebinding list":   `  hks rolebinding list --org acme --workspace web`,
	"rolebinding delete": `  hks rolebinding delete "$BINDING_ID" --org acme --workspace web`,

	"kubeconfig": `  hks kubeconfig --org acme --workspace web
  hks kubeconfig --org acme --workspace web --output-file web.kubeconfig
  hks kubeconfig --org acme --workspace web -o - > web.yaml`,
	"kubectl-token": `  hks kubectl-token --org acme --workspace web`,
}

// addExamples sets the Example of cmd and of every command below it that
// has none from examples.
func addExamples(cmd *cobra.Command) {
	if cmd.Example == "" {
		_, path, _ := strings.Cut(cmd.CommandPath(), " ")
		cmd.Example = examples[path]
	}
	for _, sub := range cmd.Commands() {
		addExamples(sub)
	}
}
