import { Link } from "react-router";
import { Page } from "../ui/bits";

export function NotFound() {
  return (
    <Page title="Page not found">
      <p>There is no page at this address. It may have moved, or the link may be wrong.</p>
      <p>
        <Link to="/">Go to your organizations</Link>
      </p>
    </Page>
  );
}
