// Allure 3 report configuration (npm `allure`, pure Node, no Java), used by `./closeout report`.
// Categories are our classifications: every gate failure message starts with "[<CLASSIFICATION>] ".
// The Awesome report reads THESE categories (it ignores allure-results/categories.json); bin/report.ts
// also writes the same list to allure-results/categories.json for the allure2 renderer and other tools.
// History (the trend across runs) is kept in reports/allure-history.jsonl, CLOSEOUT_HISTORY_LIMIT runs.
import { defineConfig } from 'allure'
// NOTE: importing 'allure' starts the Allure CLI on process.argv (its index.js is the CLI), so only the
// Allure CLI itself may load this file; the categories live in bin/report.ts (side-effect free).
import { allureCategories } from './bin/report.ts'

export const categories = allureCategories()

const historyLimit = Number.parseInt(process.env.CLOSEOUT_HISTORY_LIMIT ?? '', 10)

export default defineConfig({
  name: 'closeout',
  output: process.env.CLOSEOUT_REPORT_DIR || './reports/allure-report',
  historyPath: process.env.CLOSEOUT_HISTORY_PATH || './reports/allure-history.jsonl',
  historyLimit: Number.isFinite(historyLimit) && historyLimit > 0 ? historyLimit : 20,
  categories,
  plugins: {
    awesome: {
      options: {
        reportName: 'closeout — runbook gates',
        singleFile: process.env.CLOSEOUT_SINGLE_FILE === '1',
        groupBy: ['parentSuite', 'suite'],
      },
    },
  },
})
