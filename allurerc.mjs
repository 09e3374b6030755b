// Allure 3 report configuration (pure Node, no Java). Categories are our classifications, so the
// Awesome report groups failures by them; history is kept across runs in reports/.
import { defineConfig } from 'allure'
import { categories } from './helpers/allure-categories.mjs'

export default defineConfig({
  name: 'closeout',
  output: './reports/allure-report',
  historyPath: './reports/allure-history.jsonl',
  historyLimit: Number(process.env.CLOSEOUT_HISTORY_LIMIT ?? 20),
  categories,
  plugins: {
    awesome: { options: { reportName: 'closeout — runbook gates', singleFile: process.env.CLOSEOUT_SINGLE_FILE === '1', groupBy: ['parentSuite', 'suite'] } },
  },
})
