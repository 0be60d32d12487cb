// Package cronjobs owns CronJobs in workspace projects: schedule validation and preview (with package cronexpr), the CronJob API, and execution history.
package cronjobs
