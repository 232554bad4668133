-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN     "dpopJkt" TEXT;

