// Package cronexpr parses and previews cron schedules exactly as the
// Kubernetes CronJob controller runs them. It is used for CronJobs
// (package cronjobs) and workspace hibernation schedules (package tenancy).
//
// Schedules are the standard five-field cron expressions (minute hour
// day-of-month month day-of-week) and the descriptors @yearly, @annually,
// @monthly, @weekly, @daily, @midnight and @hourly. Parse validates an
// expression and says what is wrong with it in terms a person can act on
// (*Error); Schedule.Next and Schedule.NextN preview the activations, and
// LoadTimeZone validates a CronJob's timeZone as Kubernetes does.
//
// A workspace's CronJobs are run by the Kubernetes CronJob controller, so the
// activations computed here are the controller's. The controller parses with
// robfig/cron v3 (cron.ParseStandard) and searches with its
// SpecSchedule.Next; this package reproduces that search, including its
// five-year limit and what it does where daylight saving skips or repeats
// wall-clock times: a skipped time does not run that day, and a repeated one
// runs at both occurrences. As in the controller, day-of-week 7 is not
// Sunday (write 0 or SUN), and when both day-of-month and day-of-week are
// restricted a day matches if either does; a field counts as unrestricted
// when one of its items is "*", "?" or "*/1".
//
// Every expression Parse accepts is accepted by the controller too, with the
// same activations. The converse does not hold: Parse refuses some
// expressions the controller takes, because they are outside standard cron
// syntax or almost certainly mistakes:
//
//   - "@every <duration>" (use a five-field expression or a descriptor);
//   - TZ= and CRON_TZ= prefixes (Kubernetes refuses these too; set the
//     time_zone field of the spec instead);
//   - empty list items ("1,,2", or "," alone, which the controller takes as
//     a field that never matches), "*" as a range bound ("*-5", which the
//     controller reads as "*"), signed numbers ("+5"), and day and month
//     names spelled with non-ASCII letters that lower-case to ASCII ("FRİ");
//   - steps longer than the field ("*/90" in minutes, which would select
//     only minute 0);
//   - expressions that can never run because the chosen days of the month do
//     not occur in the chosen months ("0 0 30 2 *");
//   - expressions longer than 256 bytes.
//
// Next also differs where the controller's search never returns: across a
// calendar day that a zone skips entirely (Pacific/Apia skipped 2011-12-30)
// it goes on to the following day.
package cronexpr
